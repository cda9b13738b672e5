import { randomUUID } from 'node:crypto';
import type { Identity } from './identity';
import type { BusMessage } from './event-bus';

export const AUDIT_TOPIC = 'audit.events';

/** CloudEvents 1.0 fields plus who did what, for whom, under which correlation id. */
export interface AuditEnvelope {
  id: string;
  source: string;
  type: string;
  specversion: '1.0';
  time: string;
  subject: string;
  tenantId: string;
  actor: string;
  correlationId: string;
  action: string;
  data: unknown;
}

export function auditEnvelope(
  source: string,
  identity: Identity,
  event: { type: string; subject: string; action: string; data: unknown; correlationId?: string },
): AuditEnvelope {
  return {
    id: randomUUID(),
    source,
    type: event.type,
    specversion: '1.0',
    time: new Date().toISOString(),
    subject: event.subject,
    tenantId: identity.tenantId,
    actor: identity.subject,
    correlationId: event.correlationId ?? identity.correlationId,
    action: event.action,
    data: event.data,
  };
}

/** The outbox/bus message for an audit event: topic `audit.events`, keyed by tenant (the chain's order). */
export function auditMessage(e: AuditEnvelope): BusMessage {
  return { topic: AUDIT_TOPIC, key: e.tenantId, value: JSON.stringify(e) };
}
