import { canonicalize, sha256Hex } from '../../platform/jcs';
import type { AuditEnvelope } from '../../platform/audit-envelope';

/** The fields an event's hash covers: the whole envelope plus the previous event's hash. */
export function chainHash(prevHash: string | null, e: AuditEnvelope): string {
  return sha256Hex(`${prevHash ?? ''}\n${canonicalize({
    id: e.id, source: e.source, type: e.type, specversion: e.specversion, time: new Date(e.time).toISOString(), subject: e.subject,
    tenantId: e.tenantId, actor: e.actor, correlationId: e.correlationId, action: e.action, data: e.data ?? null,
  })}`);
}
