import { GraphQLError } from 'graphql';
import type { Identity } from '../../platform/identity';
import { AuthError, type Authenticator } from '../auth';
import { ClientStream } from './client-stream';

export interface Credentials {
  authorization?: string;
  apiKey?: string;
}

export interface SessionLimits {
  maxSubscriptionsPerConnection: number;
  maxConnectionsPerTenant: number;
  /** How often an API key (or any credential) is checked again while a connection is open. */
  recheckMs: number;
}

/** Seconds-since-epoch `exp` of a JWT that was already verified, or null for API keys. */
function jwtExpiry(authorization?: string): number | null {
  const token = /^Bearer\s+(\S+)$/i.exec(authorization ?? '')?.[1];
  if (!token) return null;
  try {
    const exp = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')).exp;
    return typeof exp === 'number' ? exp : null;
  } catch {
    return null;
  }
}

/**
 * One authenticated subscription connection (a WebSocket, or one SSE stream): its identity, its open streams,
 * and the watch that ends them with UNAUTHENTICATED when the JWT expires or the API key is revoked.
 */
export class Session {
  readonly streams = new Set<ClientStream>();
  private timers: NodeJS.Timeout[] = [];
  private ended = false;

  private constructor(readonly identity: Identity, private onInvalid: (reason: string) => void) {}

  static async open(auth: Authenticator, credentials: Credentials, correlationId: string, limits: SessionLimits, onInvalid: (reason: string) => void): Promise<Session> {
    const identity = await auth.authenticate(credentials, correlationId);
    const session = new Session(identity, onInvalid);
    const exp = jwtExpiry(credentials.authorization);
    if (exp !== null) {
      const timer = setTimeout(() => session.invalidate('the token expired'), Math.max(0, exp * 1000 - Date.now()));
      session.timers.push(timer);
    }
    const recheck = setInterval(async () => {
      try {
        await auth.authenticate(credentials, correlationId);
      } catch (err) {
        if (err instanceof AuthError) session.invalidate(err.message);
      }
    }, limits.recheckMs);
    session.timers.push(recheck);
    for (const t of session.timers) t.unref();
    return session;
  }

  track(stream: ClientStream): void {
    this.streams.add(stream);
  }

  invalidate(reason: string): void {
    if (this.ended) return;
    const error = new GraphQLError(`subscription ended: ${reason}`, { extensions: { code: 'UNAUTHENTICATED' } });
    for (const s of [...this.streams]) s.fail(error);
    this.close();
    this.onInvalid(reason);
  }

  close(): void {
    this.ended = true;
    for (const t of this.timers) clearTimeout(t);
    this.timers = [];
  }
}

/** Counts open connections per tenant against the configured ceiling. */
export class TenantConnections {
  private counts = new Map<string, number>();
  constructor(private max: number) {}

  tryAcquire(tenantId: string): boolean {
    const n = this.counts.get(tenantId) ?? 0;
    if (n >= this.max) return false;
    this.counts.set(tenantId, n + 1);
    return true;
  }

  release(tenantId: string): void {
    const n = (this.counts.get(tenantId) ?? 1) - 1;
    if (n <= 0) this.counts.delete(tenantId);
    else this.counts.set(tenantId, n);
  }

  get total(): number {
    return [...this.counts.values()].reduce((a, b) => a + b, 0);
  }
}
