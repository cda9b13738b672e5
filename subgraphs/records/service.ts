import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { payloadChecksum } from '../../platform/jcs';
import { enqueue } from '../../platform/outbox';
import { auditEnvelope, auditMessage } from '../../platform/audit-envelope';
import type { Identity } from '../../platform/identity';
import { codedError } from '../../platform/errors';
import { checkPageSize, decodeCursor } from '../../platform/pagination';
import { SCHEMA } from './migrations';
import { RecordRow } from './entities';

export interface RecordInput {
  recordId: string;
  userId: string;
  timestamp: string;
  payload: unknown;
  checksum: string;
  runId?: string | null;
}

export interface BatchInput {
  batchId: string;
  correlationId?: string | null;
  source: string;
  records: RecordInput[];
  atomic?: boolean | null;
}

export type RecordStatus = 'ACCEPTED' | 'DUPLICATE' | 'REJECTED';

export interface RecordResult {
  recordId: string;
  status: RecordStatus;
  id: string | null;
  code: string | null;
  message: string | null;
}

export interface BatchResult {
  batchId: string;
  processed: number;
  duplicates: number;
  rejected: number;
  results: RecordResult[];
}

export interface Limits {
  maxBatchRecords: number;
  maxPayloadBytes: number;
}

const AUDIT_SOURCE = '/subgraphs/records';
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})$/;

/** Why a record cannot be stored, or null when it can. */
function rejection(r: RecordInput, limits: Limits): { code: string; message: string } | null {
  if (!r.recordId) return { code: 'INVALID_RECORD', message: 'recordId must not be empty' };
  if (!r.userId) return { code: 'INVALID_RECORD', message: 'userId must not be empty' };
  if (!ISO_8601.test(r.timestamp) || Number.isNaN(Date.parse(r.timestamp))) {
    return { code: 'INVALID_TIMESTAMP', message: `timestamp "${r.timestamp}" is not an ISO 8601 date-time with a zone` };
  }
  if (r.payload === undefined || r.payload === null) return { code: 'INVALID_PAYLOAD', message: 'payload is required' };
  const json = JSON.stringify(r.payload);
  if (Buffer.byteLength(json) > limits.maxPayloadBytes) {
    return { code: 'PAYLOAD_TOO_LARGE', message: `payload exceeds ${limits.maxPayloadBytes} bytes` };
  }
  if (json.includes('\\u0000')) return { code: 'INVALID_PAYLOAD', message: 'payload strings must not contain NUL characters' };
  let expected: string;
  try {
    expected = payloadChecksum(r.payload);
  } catch (err) {
    return { code: 'INVALID_PAYLOAD', message: (err as Error).message };
  }
  if (r.checksum?.toLowerCase() !== expected) {
    return { code: 'CHECKSUM_MISMATCH', message: 'checksum is not the SHA-256 of the payload\'s RFC 8785 canonical JSON' };
  }
  return null;
}

function assertMaySend(identity: Identity, source: string): void {
  if (identity.kind === 'apikey' && identity.source && identity.source !== source) {
    throw codedError('FORBIDDEN', `this API key may only send records for source "${identity.source}"`);
  }
}

export async function ingestBatch(em: EntityManager, identity: Identity, batch: BatchInput, limits: Limits): Promise<BatchResult> {
  if (!batch.batchId) throw codedError('BAD_USER_INPUT', 'batchId must not be empty');
  if (!batch.source) throw codedError('BAD_USER_INPUT', 'source must not be empty');
  if (batch.records.length === 0) throw codedError('BAD_USER_INPUT', 'a batch needs at least one record');
  if (batch.records.length > limits.maxBatchRecords) {
    throw codedError('BATCH_TOO_LARGE', `a batch may hold at most ${limits.maxBatchRecords} records, got ${batch.records.length}`, { limit: limits.maxBatchRecords });
  }
  assertMaySend(identity, batch.source);
  const correlationId = batch.correlationId || identity.correlationId;
  const results: RecordResult[] = batch.records.map((r) => {
    const bad = rejection(r, limits);
    return { recordId: r.recordId, status: bad ? 'REJECTED' : 'ACCEPTED', id: null, code: bad?.code ?? null, message: bad?.message ?? null };
  });
  const anyRejected = results.some((r) => r.status === 'REJECTED');
  if (batch.atomic && anyRejected) {
    // Atomic: one bad record rejects the batch; nothing is written, not even audit events.
    for (const r of results) if (r.status !== 'REJECTED') Object.assign(r, { status: 'REJECTED', code: 'BATCH_REJECTED', message: 'another record in this atomic batch was rejected' });
    return summarize(batch.batchId, results);
  }

  await em.transactional(async (tx) => {
    const knex = tx.getKnex();
    const trx = tx.getTransactionContext()!;
    const toInsert = batch.records
      .map((r, i) => ({ r, res: results[i] }))
      .filter(({ res }) => res.status === 'ACCEPTED');
    const inserted = new Map<string, string>();
    if (toInsert.length > 0) {
      const rows = toInsert.map(({ r }) => ({
        id: randomUUID(), tenant_id: identity.tenantId, source: batch.source, record_id: r.recordId, user_id: r.userId,
        batch_id: batch.batchId, correlation_id: correlationId, run_id: r.runId ?? null, timestamp: new Date(r.timestamp),
        payload: JSON.stringify(r.payload), checksum: r.checksum.toLowerCase(),
      }));
      // The unique constraint decides duplicates, so concurrent retries can never store a record twice.
      const out = await knex.withSchema(SCHEMA).table('record').insert(rows).onConflict(['tenant_id', 'source', 'record_id']).ignore()
        .returning(['id', 'record_id']).transacting(trx);
      for (const row of out as { id: string; record_id: string }[]) inserted.set(row.record_id, row.id);
      const missing = toInsert.map(({ r }) => r.recordId).filter((id) => !inserted.has(id));
      const existing = new Map<string, string>();
      if (missing.length > 0) {
        const found = await knex.withSchema(SCHEMA).table('record').select('id', 'record_id')
          .where({ tenant_id: identity.tenantId, source: batch.source }).whereIn('record_id', missing).transacting(trx);
        for (const row of found as { id: string; record_id: string }[]) existing.set(row.record_id, row.id);
      }
      const claimed = new Set<string>();
      for (const { r, res } of toInsert) {
        const newId = inserted.get(r.recordId);
        if (newId && !claimed.has(r.recordId)) {
          claimed.add(r.recordId);
          res.id = newId;
        } else {
          res.status = 'DUPLICATE';
          res.id = newId ?? existing.get(r.recordId) ?? null;
          res.code = 'DUPLICATE_RECORD';
          res.message = 'this record was already stored; id is the original';
        }
      }
    }
    const audit = (type: string, subject: string, data: unknown) =>
      auditEnvelope(AUDIT_SOURCE, identity, { type, subject, action: type.toLowerCase(), data, correlationId });
    const events = [audit('BATCH_STARTED', `batch:${batch.batchId}`, { batchId: batch.batchId, source: batch.source, records: batch.records.length })];
    for (const res of results) {
      if (res.code === 'CHECKSUM_MISMATCH') events.push(audit('CHECKSUM_MISMATCH', `batch:${batch.batchId}`, { recordId: res.recordId }));
      if (res.status === 'ACCEPTED') events.push(audit('RECORD_PERSISTED', res.id!, { recordId: res.recordId, batchId: batch.batchId, source: batch.source }));
    }
    const summary = summarize(batch.batchId, results);
    events.push(audit('BATCH_COMPLETED', `batch:${batch.batchId}`, { processed: summary.processed, duplicates: summary.duplicates, rejected: summary.rejected }));
    await enqueue(tx, SCHEMA, events.map(auditMessage));
  });
  return summarize(batch.batchId, results);
}

function summarize(batchId: string, results: RecordResult[]): BatchResult {
  const count = (s: RecordStatus) => results.filter((r) => r.status === s).length;
  return { batchId, processed: count('ACCEPTED'), duplicates: count('DUPLICATE'), rejected: count('REJECTED'), results };
}

/** The data-ingestion contract: one record, no checksum, a fresh id. */
export async function ingestOne(em: EntityManager, identity: Identity, input: { userId: string; timestamp: string; payload: unknown }, limits: Limits): Promise<{ id: string }> {
  const recordId = randomUUID();
  const source = identity.source ?? 'data_ingestion';
  const result = await ingestBatch(em, identity, {
    batchId: `single:${recordId}`, source, atomic: true,
    records: [{ recordId, userId: input.userId, timestamp: input.timestamp, payload: input.payload, checksum: payloadChecksumSafe(input.payload) }],
  }, limits);
  const r = result.results[0];
  if (r.status !== 'ACCEPTED') throw codedError(r.code === 'PAYLOAD_TOO_LARGE' ? 'PAYLOAD_TOO_LARGE' : 'BAD_USER_INPUT', r.message ?? 'record rejected', { reason: r.code });
  return { id: r.id! };
}

function payloadChecksumSafe(payload: unknown): string {
  try { return payloadChecksum(payload); } catch { return ''; }
}

export interface RecordFilter {
  userId?: string | null;
  source?: string | null;
  batchId?: string | null;
  runId?: string | null;
  from?: Date | null;
  to?: Date | null;
  payloadContains?: unknown;
}

export async function findRecord(em: EntityManager, identity: Identity, id: string): Promise<RecordRow | null> {
  if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
  return em.findOne(RecordRow, { id, tenantId: identity.tenantId });
}


export async function listRecords(em: EntityManager, identity: Identity, filter: RecordFilter, first: number, after?: string | null): Promise<RecordRow[]> {
  checkPageSize(first, 500);
  const where: Record<string, unknown> = { tenantId: identity.tenantId };
  if (filter.userId) where.userId = filter.userId;
  if (filter.source) where.source = filter.source;
  if (filter.batchId) where.batchId = filter.batchId;
  if (filter.runId) where.runId = filter.runId;
  if (filter.from || filter.to) where.timestamp = { ...(filter.from ? { $gte: filter.from } : {}), ...(filter.to ? { $lt: filter.to } : {}) };
  if (after) where.seq = { $gt: decodeCursor('r', after) };
  const qb = em.createQueryBuilder(RecordRow, 'r').where(where).orderBy({ seq: 'asc' }).limit(first + 1);
  if (filter.payloadContains !== undefined && filter.payloadContains !== null) qb.andWhere('r.payload @> ?::jsonb', [JSON.stringify(filter.payloadContains)]);
  const rows = await qb.getResult();
  return rows; // first + 1 rows: the extra one tells whether another page follows
}
