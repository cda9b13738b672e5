import { createHmac, timingSafeEqual } from 'node:crypto';

/** The verified caller, as the gateway established it and forwards it to subgraphs. */
export interface Identity {
  tenantId: string;
  subject: string;
  /** user: a JWT; apikey: an edge key; system: the platform acting for a tenant (webhook deliveries, Kafka reports). */
  kind: 'user' | 'apikey' | 'system';
  scopes: string[];
  /** For edge API keys: the source the key is scoped to. */
  source?: string;
  correlationId: string;
}

export const IDENTITY_HEADER = 'x-platform-identity';

function mac(body: string, secret: string): string {
  return createHmac('sha256', secret).update(body).digest('base64url');
}

export function signIdentity(identity: Identity, secret: string): string {
  const body = Buffer.from(JSON.stringify(identity)).toString('base64url');
  return `${body}.${mac(body, secret)}`;
}

/** Returns the identity when the header carries a valid signature, otherwise null. */
export function verifyIdentity(header: string | undefined, secret: string): Identity | null {
  if (!header) return null;
  const dot = header.indexOf('.');
  if (dot < 1) return null;
  const body = header.slice(0, dot);
  const given = Buffer.from(header.slice(dot + 1));
  const expected = Buffer.from(mac(body, secret));
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) return null;
  try {
    const parsed = JSON.parse(Buffer.from(body, 'base64url').toString('utf8')) as Identity;
    return typeof parsed.tenantId === 'string' && typeof parsed.subject === 'string' ? parsed : null;
  } catch {
    return null;
  }
}

/** Scope of the system identity the gateway uses to hand `POST /v1/webhooks/{id}` deliveries to the flow-runs subgraph. */
export const WEBHOOK_DELIVERY_SCOPE = 'webhook:deliver';
