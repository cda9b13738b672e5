import type { EntityManager } from '@mikro-orm/postgresql';
import type { AuditEnvelope } from '../../platform/audit-envelope';
import type { Identity } from '../../platform/identity';
import { codedError } from '../../platform/errors';
import { checkPageSize, decodeCursor } from '../../platform/pagination';
import { AuditEventRow } from './entities';
import { chainHash } from './chain';
import { SCHEMA } from './migrations';
import { enqueue } from '../../platform/outbox';
import { chainedMessage } from './event-stream';

function parseEnvelope(value: string): AuditEnvelope | null {
  try {
    const e = JSON.parse(value) as AuditEnvelope;
    const ok = e && e.specversion === '1.0' && [e.id, e.type, e.tenantId, e.subject, e.source, e.time].every((f) => typeof f === 'string' && f.length > 0);
    return ok && /^[0-9a-f-]{36}$/i.test(e.id) ? e : null;
  } catch {
    return null;
  }
}

/** Stores one event once (idempotent by id) and links it to its tenant's chain. */
export async function storeEvent(em: EntityManager, value: string): Promise<'stored' | 'duplicate' | 'invalid'> {
  const e = parseEnvelope(value);
  if (!e) {
    console.error('[audit] dropping a message that is not an audit envelope:', value.slice(0, 200));
    return 'invalid';
  }
  return em.transactional(async (tx) => {
    const knex = tx.getKnex();
    const trx = tx.getTransactionContext()!;
    // Serialize per tenant so two events never claim the same predecessor.
    await knex.raw('select pg_advisory_xact_lock(hashtext(?))', [`audit:${e.tenantId}`]).transacting(trx);
    const seen = await knex.withSchema(SCHEMA).table('event').select('id').where({ id: e.id }).transacting(trx);
    if (seen.length > 0) return 'duplicate';
    const last = await knex.withSchema(SCHEMA).table('event').select('hash').where({ tenant_id: e.tenantId }).orderBy('seq', 'desc').limit(1).transacting(trx);
    const prevHash: string | null = last[0]?.hash ?? null;
    const row = {
      id: e.id, tenant_id: e.tenantId, source: e.source, type: e.type, specversion: e.specversion, time: new Date(e.time),
      subject: e.subject, actor: e.actor ?? '', correlation_id: e.correlationId ?? '', action: e.action ?? '',
      data: JSON.stringify(e.data ?? null), prev_hash: prevHash, hash: chainHash(prevHash, e),
    };
    const [{ seq }] = await knex.withSchema(SCHEMA).table('event').insert(row).returning(['seq']).transacting(trx);
    await enqueue(tx, SCHEMA, [chainedMessage({
      id: row.id, seq: String(seq), tenantId: row.tenant_id, source: row.source, type: row.type, specversion: row.specversion, time: row.time,
      subject: row.subject, actor: row.actor, correlationId: row.correlation_id, action: row.action, data: e.data ?? null, prevHash, hash: row.hash,
    })]);
    return 'stored';
  });
}

export interface ChainReport {
  tenantId: string;
  checked: number;
  ok: boolean;
  brokenAt?: { id: string; seq: string; reason: string };
}

/** Recomputes a tenant's chain in order and names the first event whose link does not hold. */
export async function verifyChain(em: EntityManager, tenantId: string): Promise<ChainReport> {
  const rows = await em.find(AuditEventRow, { tenantId }, { orderBy: { seq: 'asc' } });
  let prev: string | null = null;
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const envelope: AuditEnvelope = {
      id: r.id, source: r.source, type: r.type, specversion: '1.0', time: r.time.toISOString(), subject: r.subject,
      tenantId: r.tenantId, actor: r.actor, correlationId: r.correlationId, action: r.action, data: r.data,
    };
    if ((r.prevHash ?? null) !== prev) return { tenantId, checked: i, ok: false, brokenAt: { id: r.id, seq: String(r.seq), reason: 'prevHash does not match the previous event\'s hash' } };
    if (chainHash(prev, envelope) !== r.hash) return { tenantId, checked: i, ok: false, brokenAt: { id: r.id, seq: String(r.seq), reason: 'content does not match its hash' } };
    prev = r.hash;
  }
  return { tenantId, checked: rows.length, ok: true };
}

export interface AuditFilter {
  type?: string | null;
  subject?: string | null;
  correlationId?: string | null;
  from?: Date | null;
  to?: Date | null;
}


export async function listEvents(em: EntityManager, identity: Identity, filter: AuditFilter, first: number, after?: string | null) {
  checkPageSize(first, 1000);
  const where: Record<string, unknown> = { tenantId: identity.tenantId };
  if (filter.type) where.type = filter.type;
  if (filter.subject) where.subject = filter.subject;
  if (filter.correlationId) where.correlationId = filter.correlationId;
  if (filter.from || filter.to) where.time = { ...(filter.from ? { $gte: filter.from } : {}), ...(filter.to ? { $lt: filter.to } : {}) };
  if (after) where.seq = { $gt: decodeCursor('a', after) };
  const rows = await em.find(AuditEventRow, where, { orderBy: { seq: 'asc' }, limit: first + 1 });
  return rows; // first + 1 rows: the extra one tells whether another page follows
}
