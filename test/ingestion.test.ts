import { randomUUID } from 'node:crypto';
import { AUDIT_BY_CORRELATION, INGEST, REAL_DB, bearer, bootPlatform, eventually, gql, newTenant, record, sql, tokenFor } from './harness';
import type { Platform } from '../scripts/platform';
import type { PlatformConfig } from '../platform/config';

let platform: Platform;
let config: PlatformConfig;
let url: string;

beforeAll(async () => {
  ({ platform, config, url } = await bootPlatform({ maxBatchRecords: 20, maxPayloadBytes: 2048, maxBodyBytes: 64 * 1024 }));
  if (!REAL_DB) console.warn('ingestion.test: DATABASE_URL not set, running on embedded Postgres; SQL row-count checks are skipped');
}, 120000);
afterAll(async () => { await platform?.stop(); });

async function auditTypes(token: string, correlationId: string, expected: number) {
  return eventually(async () => {
    const r = await gql(url, bearer(token), AUDIT_BY_CORRELATION, { c: correlationId });
    const edges = r.body.data.auditEvents.edges;
    return edges.length >= expected ? edges.map((e: any) => e.node) : undefined;
  }, 20000, `${expected} audit events`);
}

test('a batch with one bad checksum keeps the good records and rejects the bad one, in input order', async () => {
  const tenant = newTenant();
  const token = await tokenFor(config, tenant);
  const correlationId = randomUUID();
  const bad = { ...record('r2', { v: 2 }), checksum: 'ab'.repeat(32) };
  const r = await gql(url, bearer(token), INGEST, { batch: { batchId: 'b-partial', correlationId, source: 'edge-1', records: [record('r1', { v: 1 }), bad, record('r3', { v: 3 }), record('r4', { v: 4 }, { timestamp: 'yesterday' })] } });
  const out = r.body.data.ingestRecords;
  expect(out).toMatchObject({ batchId: 'b-partial', processed: 2, duplicates: 0, rejected: 2 });
  expect(out.results.map((x: any) => [x.recordId, x.status, x.code])).toEqual([
    ['r1', 'ACCEPTED', null], ['r2', 'REJECTED', 'CHECKSUM_MISMATCH'], ['r3', 'ACCEPTED', null], ['r4', 'REJECTED', 'INVALID_TIMESTAMP'],
  ]);
  // Audit trail: started, one mismatch, one persisted per stored record, completed; chained.
  const events = await auditTypes(token, correlationId, 5);
  expect(events.map((e: any) => e.type).sort()).toEqual(['BATCH_COMPLETED', 'BATCH_STARTED', 'CHECKSUM_MISMATCH', 'RECORD_PERSISTED', 'RECORD_PERSISTED']);
  const persisted = events.filter((e: any) => e.type === 'RECORD_PERSISTED').map((e: any) => e.subject).sort();
  expect(persisted).toEqual([out.results[0].id, out.results[2].id].sort());
  for (let i = 1; i < events.length; i++) expect(events[i].prevHash).toBe(events[i - 1].hash);

  // One query, two subgraphs: the records and their audit events.
  const q = await gql(url, bearer(token), `{ records(filter: { batchId: "b-partial" }) { edges { node { recordId payload auditEvents { type subject } } } } }`);
  expect(q.body.errors).toBeUndefined();
  expect(q.body.data.records.edges.map((e: any) => [e.node.recordId, e.node.payload, e.node.auditEvents.map((a: any) => a.type)])).toEqual([
    ['r1', { v: 1 }, ['RECORD_PERSISTED']], ['r3', { v: 3 }, ['RECORD_PERSISTED']],
  ]);
});

test('atomic: one rejection rejects the whole batch, nothing is stored and no audit event is written', async () => {
  const tenant = newTenant();
  const token = await tokenFor(config, tenant);
  const correlationId = randomUUID();
  const r = await gql(url, bearer(token), INGEST, { batch: { batchId: 'b-atomic', correlationId, atomic: true, source: 'edge-1', records: [record('a1', { v: 1 }), { ...record('a2', { v: 2 }), checksum: '00' }] } });
  expect(r.body.data.ingestRecords).toMatchObject({ processed: 0, rejected: 2 });
  expect(r.body.data.ingestRecords.results.map((x: any) => x.code)).toEqual(['BATCH_REJECTED', 'CHECKSUM_MISMATCH']);
  const q = await gql(url, bearer(token), `{ records(filter: { batchId: "b-atomic" }) { edges { node { id } } } }`);
  expect(q.body.data.records.edges).toEqual([]);
  // A later batch's events arriving proves the relay has drained past this point; still none for the atomic one.
  const marker = randomUUID();
  await gql(url, bearer(token), INGEST, { batch: { batchId: 'b-after', correlationId: marker, source: 'edge-1', records: [record('m1', { v: 1 })] } });
  await auditTypes(token, marker, 3);
  const none = await gql(url, bearer(token), AUDIT_BY_CORRELATION, { c: correlationId });
  expect(none.body.data.auditEvents.edges).toEqual([]);
});

test('the same batch from 10 concurrent clients stores each record once and reports the original ids', async () => {
  const tenant = newTenant();
  const token = await tokenFor(config, tenant);
  const records = Array.from({ length: 15 }, (_, i) => record(`c${i}`, { i }));
  const batch = { batchId: 'b-concurrent', source: 'edge-2', records };
  const replies = await Promise.all(Array.from({ length: 10 }, () => gql(url, bearer(token), INGEST, { batch })));
  const results = replies.map((r) => r.body.data.ingestRecords);
  expect(results.reduce((n, r) => n + r.processed, 0)).toBe(15);
  expect(results.reduce((n, r) => n + r.duplicates, 0)).toBe(15 * 9);
  for (let i = 0; i < 15; i++) expect(new Set(results.map((r) => r.results[i].id)).size).toBe(1);
  const q = await gql(url, bearer(token), `{ records(filter: { batchId: "b-concurrent" }, first: 100) { edges { node { id } } } }`);
  expect(q.body.data.records.edges).toHaveLength(15);
  if (REAL_DB) {
    const rows = await sql(`select count(*)::int as n, count(distinct record_id)::int as d from records.record where tenant_id = $1`, [tenant]);
    expect(rows[0]).toEqual({ n: 15, d: 15 });
  }
});

test('limits: records per batch, payload size and request size each give a clear code', async () => {
  const token = await tokenFor(config, newTenant());
  const many = await gql(url, bearer(token), INGEST, { batch: { batchId: 'big', source: 's', records: Array.from({ length: 21 }, (_, i) => record(`x${i}`, { i })) } });
  expect(many.body.errors[0].extensions.code).toBe('BATCH_TOO_LARGE');
  const fat = await gql(url, bearer(token), INGEST, { batch: { batchId: 'fat', source: 's', records: [record('f1', { blob: 'x'.repeat(3000) }), record('f2', { ok: 1 })] } });
  expect(fat.body.data.ingestRecords.results.map((x: any) => [x.status, x.code])).toEqual([['REJECTED', 'PAYLOAD_TOO_LARGE'], ['ACCEPTED', null]]);
  const huge = await gql(url, bearer(token), INGEST, { batch: { batchId: 'huge', source: 's', records: [record('h1', { blob: 'x'.repeat(70 * 1024) })] } });
  expect(huge.status).toBe(413);
  expect(huge.body.errors[0].extensions.code).toBe('REQUEST_TOO_LARGE');
  const empty = await gql(url, bearer(token), INGEST, { batch: { batchId: '', source: 's', records: [record('e1', {})] } });
  expect(empty.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
});

test('another tenant cannot read a record, not even by id', async () => {
  const a = await tokenFor(config, newTenant());
  const b = await tokenFor(config, newTenant());
  const r = await gql(url, bearer(a), INGEST, { batch: { batchId: 'iso', source: 's', records: [record('i1', { secret: true })] } });
  const id = r.body.data.ingestRecords.results[0].id;
  const mine = await gql(url, bearer(a), `query($id: ID!) { record(id: $id) { id payload } }`, { id });
  expect(mine.body.data.record).toEqual({ id, payload: { secret: true } });
  const theirs = await gql(url, bearer(b), `query($id: ID!) { record(id: $id) { id payload } }`, { id });
  expect(theirs.body).toEqual({ data: { record: null } });
  const list = await gql(url, bearer(b), `{ records(filter: { batchId: "iso" }) { edges { node { id } } } }`);
  expect(list.body.data.records.edges).toEqual([]);
});

test('records: filters, payloadContains and cursor pagination', async () => {
  const token = await tokenFor(config, newTenant());
  const recs = Array.from({ length: 5 }, (_, i) => record(`p${i}`, { kind: i % 2 ? 'odd' : 'even', i }));
  await gql(url, bearer(token), INGEST, { batch: { batchId: 'pg', source: 's', records: recs } });
  const page1 = await gql(url, bearer(token), `{ records(first: 2) { edges { cursor node { recordId } } pageInfo { hasNextPage endCursor } } }`);
  expect(page1.body.data.records.edges.map((e: any) => e.node.recordId)).toEqual(['p0', 'p1']);
  expect(page1.body.data.records.pageInfo.hasNextPage).toBe(true);
  const page2 = await gql(url, bearer(token), `query($a: String) { records(first: 10, after: $a) { edges { node { recordId } } pageInfo { hasNextPage } } }`, { a: page1.body.data.records.pageInfo.endCursor });
  expect(page2.body.data.records.edges.map((e: any) => e.node.recordId)).toEqual(['p2', 'p3', 'p4']);
  expect(page2.body.data.records.pageInfo.hasNextPage).toBe(false);
  const odd = await gql(url, bearer(token), `{ records(filter: { payloadContains: { kind: "odd" } }) { edges { node { recordId } } } }`);
  expect(odd.body.data.records.edges.map((e: any) => e.node.recordId)).toEqual(['p1', 'p3']);
  const bad = await gql(url, bearer(token), `{ records(after: "nonsense") { edges { node { id } } } }`);
  expect(bad.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
});
