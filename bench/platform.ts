/**
 * Platform workloads on our real subgraphs (records, audit, flow-runs in one process with the gateway,
 * in-process bus), on embedded PGlite and, when DATABASE_URL is set, on real PostgreSQL:
 *  - a cross-subgraph query (records + their audit events) through the gateway vs the same data fetched
 *    directly from the two subgraphs (records query, then audit `_entities`), same load client;
 *  - ingestion of 500-record batches through the gateway vs a raw `pg` multi-row INSERT of the same rows
 *    into the same table (the physical limit on this box).
 */
import { startEmbedded } from '../platform/db';
import { isDeepStrictEqual } from 'node:util';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { loadConfig, type PlatformConfig } from '../platform/config';
import { payloadChecksum } from '../platform/jcs';
import { signIdentity, IDENTITY_HEADER } from '../platform/identity';
import { startPlatform, REPO_ROOT } from '../scripts/platform';
import { mintJwt } from '../scripts/cli';
import { migrations as recordMigrations } from '../subgraphs/records/migrations';
import { freePort, median, postJson, runLoadProcess, waitFor } from './lib';
import type { LoadResult, Step } from './load';

export interface IngestRow { database: string; path: 'gateway' | 'raw pg'; clients: number; batches: number; records: number; seconds: number; recordsPerSecond: number }
export interface CrossRow extends LoadResult { database: string; path: 'gateway' | 'direct'; connections: number; httpRequestsPerIteration: number }
export interface PlatformResults {
  ingestion: IngestRow[];
  /** gateway records/s ÷ raw pg records/s, per database */
  ingestionRatio: Record<string, number>;
  cross: CrossRow[];
  /** gateway iterations/s ÷ direct iterations/s, per database */
  crossRatio: Record<string, number>;
  crossQuery: string;
  crossRounds: number;
  connections: number;
  durationSeconds: number;
}

const INGEST = 'mutation($b: BatchInput!) { ingestRecords(batch: $b) { processed } }';
export const CROSS_QUERY = 'query($b: String!) { records(first: 20, filter: {batchId: $b}) { edges { node { id recordId payload auditEvents { type subject hash } } } } }';
const DIRECT_RECORDS = 'query($b: String!) { records(first: 20, filter: {batchId: $b}) { edges { node { id recordId payload } } } }';
const DIRECT_AUDIT = 'query($r: [_Any!]!) { _entities(representations: $r) { ... on Record { auditEvents { type subject hash } } } }';

function batchRecords(label: string, b: number) {
  return Array.from({ length: 500 }, (_, i) => {
    const payload = { seq: i, temp: 20 + (i % 10) / 10, sensor: { id: `S-${i % 50}`, ok: true } };
    return { recordId: `${label}-${b}-${i}`, userId: `u${i % 20}`, timestamp: '2026-12-01T10:00:00Z', payload, checksum: payloadChecksum(payload) };
  });
}

/** n batches by `clients` concurrent senders; returns seconds. */
async function timed(batches: number, clients: number, send: (b: number) => Promise<void>): Promise<number> {
  await send(-1); // warm-up
  const started = process.hrtime.bigint();
  let next = 0;
  await Promise.all(Array.from({ length: clients }, async () => { while (next < batches) await send(next++); }));
  return Number(process.hrtime.bigint() - started) / 1e9;
}

async function ingestThroughGateway(url: string, token: string, label: string, batches: number): Promise<IngestRow> {
  const send = async (b: number) => {
    const r = await postJson(`${url}/graphql`, JSON.stringify({ query: INGEST, variables: { b: { batchId: `${label}-${b}`, source: 'bench', records: batchRecords(label, b) } } }), { authorization: `Bearer ${token}` });
    const body = JSON.parse(r.text) as { data?: { ingestRecords?: { processed: number } } };
    if (body.data?.ingestRecords?.processed !== 500) throw new Error(`batch ${b} not fully stored: ${r.text.slice(0, 300)}`);
  };
  const seconds = await timed(batches, 4, send);
  return { database: '', path: 'gateway', clients: 4, batches, records: batches * 500, seconds, recordsPerSecond: Math.round((batches * 500) / seconds) };
}

/** The same rows, one multi-row INSERT per batch, straight into records.record. */
async function rawInsert(clients: Client[], label: string, batches: number): Promise<IngestRow> {
  const tenant = `bench-raw-${randomUUID().slice(0, 8)}`;
  const cols = ['id', 'tenant_id', 'source', 'record_id', 'user_id', 'batch_id', 'correlation_id', 'run_id', 'timestamp', 'payload', 'checksum'];
  const sqlText = `insert into records.record (${cols.map((c) => `"${c}"`).join(', ')}) values ` +
    Array.from({ length: 500 }, (_, r) => `(${cols.map((__, c) => `$${r * cols.length + c + 1}`).join(', ')})`).join(', ');
  const insertBatch = async (client: Client, b: number) => {
    const params: unknown[] = [];
    const correlationId = randomUUID();
    for (const r of batchRecords(label, b)) params.push(randomUUID(), tenant, 'bench', r.recordId, r.userId, `${label}-${b}`, correlationId, null, new Date(r.timestamp), JSON.stringify(r.payload), r.checksum);
    await client.query(sqlText, params);
  };
  await insertBatch(clients[0], -1); // warm-up
  const started = process.hrtime.bigint();
  let next = 0;
  // one sender per connection
  await Promise.all(clients.map(async (client) => { while (next < batches) await insertBatch(client, next++); }));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return { database: '', path: 'raw pg', clients: clients.length, batches, records: batches * 500, seconds, recordsPerSecond: Math.round((batches * 500) / seconds) };
}

async function crossSubgraph(database: string, platformUrl: string, token: string, config: PlatformConfig, tenant: string, recordsUrl: string, auditUrl: string,
  connections: number, durationSeconds: number, rounds: number, log: (s: string) => void): Promise<CrossRow[]> {
  const auth = { authorization: `Bearer ${token}` };
  // One batch of 20 records per connection, so every connection asks for different data (nothing for the
  // gateway to merge), and wait until the audit subgraph holds their events (the bus is asynchronous).
  const gatewaySteps: Step[][] = [];
  const directSteps: Step[][] = [];
  for (let v = 0; v < connections; v++) {
    const batchId = `cross-${v}`;
    const records = batchRecords(batchId, 0).slice(0, 20);
    const seeded = await postJson(`${platformUrl}/graphql`, JSON.stringify({ query: INGEST, variables: { b: { batchId, source: 'bench-cross', records } } }), auth);
    if (!seeded.text.includes('"processed":20')) throw new Error(`seeding failed: ${seeded.text.slice(0, 300)}`);
  }
  const identity = signIdentity({ tenantId: tenant, subject: 'bench', kind: 'user', scopes: [], correlationId: 'bench-direct' }, config.internalSecret);
  const direct = { [IDENTITY_HEADER]: identity };
  for (let v = 0; v < connections; v++) {
    const gatewayBody = JSON.stringify({ query: CROSS_QUERY, variables: { b: `cross-${v}` } });
    const viaGateway = async () => postJson(`${platformUrl}/graphql`, gatewayBody, auth);
    await waitFor('audit events of the seeded records', async () => {
      const r = JSON.parse((await viaGateway()).text);
      return r.data?.records.edges.length === 20 && r.data.records.edges.every((e: { node: { auditEvents: unknown[] } }) => e.node.auditEvents.length > 0);
    }, 60_000);
    const gatewayAnswer = await viaGateway();
    const recordsBody = JSON.stringify({ query: DIRECT_RECORDS, variables: { b: `cross-${v}` } });
    const recAnswer = await postJson(recordsUrl, recordsBody, direct);
    const ids: string[] = JSON.parse(recAnswer.text).data.records.edges.map((e: { node: { id: string } }) => e.node.id);
    const auditBody = JSON.stringify({ query: DIRECT_AUDIT, variables: { r: ids.map((id) => ({ __typename: 'Record', id })) } });
    const auditAnswer = await postJson(auditUrl, auditBody, direct);
    // the direct answer, assembled, must equal the gateway's
    const audits = JSON.parse(auditAnswer.text).data._entities;
    const assembled = { data: { records: { edges: JSON.parse(recAnswer.text).data.records.edges.map((e: { node: object }, i: number) => ({ node: { ...e.node, auditEvents: audits[i].auditEvents } })) } } };
    if (!isDeepStrictEqual(assembled, JSON.parse(gatewayAnswer.text))) throw new Error(`direct and gateway answers differ:\n${JSON.stringify(assembled).slice(0, 400)}\n${gatewayAnswer.text.slice(0, 400)}`);
    gatewaySteps.push([{ url: `${platformUrl}/graphql`, body: gatewayBody, headers: auth, expect: gatewayAnswer.text }]);
    directSteps.push([{ url: recordsUrl, body: recordsBody, headers: direct, expect: recAnswer.text }, { url: auditUrl, body: auditBody, headers: direct, expect: auditAnswer.text }]);
  }

  // alternating rounds (gateway first, then direct first, …); medians
  const spec = { mode: 'sequence' as const, connections, warmupSeconds: 1, durationSeconds, steps: [] };
  const runs: Record<'gateway' | 'direct', LoadResult[]> = { gateway: [], direct: [] };
  for (let round = 0; round < rounds; round++) {
    for (const path of (round % 2 ? ['direct', 'gateway'] : ['gateway', 'direct']) as ('gateway' | 'direct')[]) {
      runs[path].push(await runLoadProcess({ ...spec, variants: path === 'gateway' ? gatewaySteps : directSteps }));
    }
  }
  const med = (rs: LoadResult[]): LoadResult => ({
    requests: rs.reduce((a, r) => a + r.requests, 0), seconds: rs.reduce((a, r) => a + r.seconds, 0), rps: Math.round(median(rs.map((r) => r.rps))),
    errors: rs.reduce((a, r) => a + r.errors, 0), non2xx: rs.reduce((a, r) => a + r.non2xx, 0), mismatches: rs.reduce((a, r) => a + r.mismatches, 0),
    p50: median(rs.map((r) => r.p50)), p95: median(rs.map((r) => r.p95)), p99: median(rs.map((r) => r.p99)), max: Math.max(...rs.map((r) => r.max)),
  });
  const g = med(runs.gateway);
  const d = med(runs.direct);
  const out: CrossRow[] = [
    { database, path: 'gateway', connections, httpRequestsPerIteration: 1, ...g },
    { database, path: 'direct', connections, httpRequestsPerIteration: 2, ...d },
  ];
  log(`  ${database} cross-subgraph: gateway ${g.rps}/s (p99 ${g.p99} ms), direct ${d.rps}/s (p99 ${d.p99} ms)`);
  return out;
}

export async function runPlatformWorkloads(opts: { quick: boolean; log: (s: string) => void; tmp: string; durationSeconds: number }): Promise<PlatformResults> {
  const { log } = opts;
  const batches = opts.quick ? 4 : 40;
  const connections = opts.quick ? 4 : 10;
  const results: PlatformResults = { ingestion: [], ingestionRatio: {}, cross: [], crossRatio: {}, crossQuery: CROSS_QUERY, crossRounds: opts.quick ? 1 : 3, connections, durationSeconds: opts.durationSeconds };
  process.env.LOG_REQUESTS = '0';
  // keep clear of `npm start` (4001…) and the tests (4101…): the subgraphs of this run listen on base…base+2
  process.env.SUBGRAPH_BASE_PORT = String(47000 + Math.floor(Math.random() * 900) * 3);
  const databases: [string, string | undefined][] = [['embedded', undefined]];
  if (process.env.DATABASE_URL) databases.push(['postgres', process.env.DATABASE_URL]);
  if (opts.quick) databases.splice(0, databases.length - 1); // smoke: only the database this environment uses
  for (const [database, databaseUrl] of databases) {
    log(`platform workloads, ${database} database`);
    const config: PlatformConfig = { ...loadConfig(), databaseUrl, kafkaBrokers: undefined, dataDir: mkdtempSync(join(opts.tmp, `platform-${database}-`)) };
    const platform = await startPlatform(config, 0);
    const tenant = `bench-${randomUUID().slice(0, 8)}`;
    const token = await mintJwt(config.jwtSecret, { tenant, sub: 'bench', ttl: 3600 });
    try {
      // the cross-subgraph query first: ingestion leaves the audit subgraph a backlog of events to chain
      const sub = (name: string) => platform.subgraphs.find((s) => s.name === name)?.url ?? (() => { throw new Error(`no subgraph ${name}`); })();
      results.cross.push(...await crossSubgraph(database, platform.gateway.url, token, config, tenant, sub('records'), sub('audit'), connections, opts.durationSeconds, opts.quick ? 1 : 3, log));
      const g = await ingestThroughGateway(platform.gateway.url, token, `${database}-${Date.now()}`, batches);
      results.ingestion.push({ ...g, database });
      log(`  ${database} ingestion through the gateway: ${g.records} records in ${g.seconds.toFixed(2)} s = ${g.recordsPerSecond} records/s`);
    } finally {
      await platform.stop();
    }
    // raw INSERTs after the platform stopped, so nothing else competes for the database or the CPU
    let raw: IngestRow;
    if (databaseUrl) {
      const clients = await Promise.all(Array.from({ length: 4 }, async () => { const c = new Client({ connectionString: databaseUrl }); await c.connect(); return c; }));
      try { raw = await rawInsert(clients, `raw-${Date.now()}`, batches); } finally { await Promise.all(clients.map((c) => c.end())); }
    } else {
      const pg = await startEmbedded(join(config.dataDir, 'raw'));
      const client = new Client({ connectionString: pg.url });
      try {
        await client.connect();
        await client.query('create schema if not exists records');
        await client.query(recordMigrations[0]);
        raw = await rawInsert([client], `raw-${Date.now()}`, batches); // PGlite takes one connection (ARCHITECTURE.md §3)
      } finally {
        await client.end().catch(() => undefined);
        await pg.stop();
      }
    }
    results.ingestion.push({ ...raw, database });
    results.ingestionRatio[database] = Math.round((results.ingestion.find((r) => r.database === database && r.path === 'gateway')!.recordsPerSecond / raw.recordsPerSecond) * 100) / 100;
    const cg = results.cross.find((r) => r.database === database && r.path === 'gateway')!;
    const cd = results.cross.find((r) => r.database === database && r.path === 'direct')!;
    results.crossRatio[database] = Math.round((cg.rps / cd.rps) * 100) / 100;
    log(`  ${database} raw pg INSERT: ${raw.records} records in ${raw.seconds.toFixed(2)} s = ${raw.recordsPerSecond} records/s → gateway/raw ${results.ingestionRatio[database]}`);
  }
  return results;
}
