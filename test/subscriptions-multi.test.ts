import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { CREATE_RUN, INGEST, REAL_DB, REAL_KAFKA, REPORT, bearer, collect, eventually, gql, newTenant, record, registerFlow, wsClient } from './harness';
import { PostgresApiKeyStore } from '../gateway/api-keys';
import { mintJwt } from '../scripts/cli';
import { loadConfig } from '../platform/config';

/**
 * Two instances of every process — gateway, records, audit, flow-runs — against one Kafka and one Postgres, each its
 * own OS process as in production. Gateway n talks to the subgraph instances n. A run created through gateway 1 and
 * moved through flow-runs instance 2 reaches the subscribers of both gateways, every event exactly once, in order.
 */
const realOnly = REAL_DB && REAL_KAFKA ? describe : describe.skip;
if (!REAL_DB || !REAL_KAFKA) console.warn('subscriptions-multi.test: needs DATABASE_URL and KAFKA_BROKERS (several processes share them); skipped');

const PORTS = { records1: 4911, audit1: 4912, runs1: 4913, records2: 4921, audit2: 4922, runs2: 4923, gw1: 4915, gw2: 4925 };
const children: ChildProcess[] = [];
const config = loadConfig();

function serve(component: string, env: Record<string, string>): void {
  const child = spawn(process.execPath, [join(__dirname, '..', 'dist', 'scripts', 'serve.js'), component], {
    env: { ...process.env, LOG_REQUESTS: '0', ...env },
    stdio: ['ignore', 'inherit', 'inherit'],
  });
  children.push(child);
}

async function healthy(port: number, path = '/health'): Promise<void> {
  await eventually(async () => {
    try {
      return (await fetch(`http://127.0.0.1:${port}${path}`)).ok ? true : undefined;
    } catch {
      return undefined;
    }
  }, 90000, `:${port}${path}`);
}

/** The gateways share the Postgres key store, so a key made here works on both. */
async function createKey(tenant: string, source: string): Promise<string> {
  const store = new PostgresApiKeyStore(process.env.DATABASE_URL!);
  try {
    return (await store.create(tenant, source)).key;
  } finally {
    await store.close();
  }
}

realOnly('two instances of every process on one Kafka', () => {
  beforeAll(async () => {
    const instances = [[PORTS.records1, PORTS.audit1, PORTS.runs1, PORTS.gw1], [PORTS.records2, PORTS.audit2, PORTS.runs2, PORTS.gw2]];
    for (const [records, audit, runs] of instances) {
      serve('records', { RECORDS_PORT: String(records) });
      serve('audit', { AUDIT_PORT: String(audit) });
      serve('flow-runs', { FLOW_RUNS_PORT: String(runs) });
    }
    for (const [records, audit, runs] of instances) for (const p of [records, audit, runs]) await healthy(p);
    for (const [records, audit, runs, gateway] of instances) {
      const url = (port: number) => `http://127.0.0.1:${port}/graphql`;
      serve('gateway', { GATEWAY_PORT: String(gateway), RECORDS_URL: url(records), AUDIT_URL: url(audit), FLOW_RUNS_URL: url(runs) });
    }
    await healthy(PORTS.gw1, '/ready');
    await healthy(PORTS.gw2, '/ready');
  }, 180000);

  afterAll(async () => {
    await Promise.all(children.map((c) => new Promise((res) => { c.once('exit', res); c.kill('SIGTERM'); setTimeout(() => c.kill('SIGKILL'), 15000).unref(); })));
  }, 30000);

  test('every subscriber on both gateways sees each status change once, in order, with fields from three subgraphs; another tenant sees none', async () => {
    const gw1 = `http://127.0.0.1:${PORTS.gw1}`;
    const gw2 = `http://127.0.0.1:${PORTS.gw2}`;
    const tenant = newTenant();
    const token = await mintJwt(config.jwtSecret, { tenant, sub: 'alice' });
    const orch = await mintJwt(config.jwtSecret, { tenant, sub: 'orch', scope: 'orchestrator' });
    const flowId = await registerFlow(gw1, token);
    const created = await gql(gw1, bearer(token), CREATE_RUN, { input: { flowId, requestId: randomUUID() } });
    const runId = created.body.data.createRun.run.id;
    const ingest = await gql(gw2, bearer(token), INGEST, { batch: { batchId: `m-${runId}`, source: 'partner', records: [record('m1', { a: 1 }, { runId })] } });
    expect(ingest.body.data.ingestRecords.processed).toBe(1);
    const apiKey = await createKey(tenant, 'partner');
    const q = `subscription($runId: ID, $since: String) { runStatusChanged(runId: $runId, since: $since, statuses: [QUEUED, RUNNING, SUCCEEDED]) {
      eventId status run { id flow { id } records { edges { node { recordId } } } auditEvents { type } } } }`;
    const subscribers = [wsClient(gw1, { apiKey }), wsClient(gw1, { authorization: `Bearer ${token}` }), wsClient(gw2, { apiKey })];
    const streams = subscribers.map((s) => collect(s.client, q, { runId }));
    const intruder = wsClient(gw2, { authorization: `Bearer ${await mintJwt(config.jwtSecret, { tenant: newTenant(), sub: 'eve' })}` });
    const spying = collect(intruder.client, q, { runId });
    // Give both gateways time to open their upstream subscriptions before moving the run.
    await new Promise((r) => setTimeout(r, 1500));
    for (const [i, status] of ['QUEUED', 'RUNNING', 'SUCCEEDED'].entries()) {
      const r = await gql(gw2, bearer(orch), REPORT, { input: { runId, reportId: `m${i}`, status } });
      expect(r.body.errors).toBeUndefined();
    }
    await eventually(async () => (streams.every((s) => s.results.length >= 3) ? true : undefined), 30000, 'three events on every subscriber');
    await new Promise((r) => setTimeout(r, 1500)); // a duplicate would arrive by now
    for (const [i, s] of streams.entries()) {
      expect({ subscriber: i, statuses: s.results.map((e) => e.data.runStatusChanged.status) }).toEqual({ subscriber: i, statuses: ['QUEUED', 'RUNNING', 'SUCCEEDED'] });
      for (const e of s.results) {
        expect(e.errors).toBeUndefined();
        expect(e.data.runStatusChanged.run).toMatchObject({ id: runId, flow: { id: flowId }, records: { edges: [{ node: { recordId: 'm1' } }] } });
        expect(e.data.runStatusChanged.run.auditEvents.map((a: { type: string }) => a.type)).toContain('RUN_CREATED');
      }
      s.dispose();
    }
    expect(spying.results).toEqual([]);
    // The partner reconnects to the other gateway with since = the first event: it gets the two after it, once.
    const first = streams[0].results[0].data.runStatusChanged.eventId;
    const resumed = collect(subscribers[2].client, q, { runId, since: first }, (rs) => rs.length === 2);
    const { results } = await resumed.done;
    expect(results.map((e) => e.data.runStatusChanged.status)).toEqual(['RUNNING', 'SUCCEEDED']);
    spying.dispose();
    await Promise.all([...subscribers, intruder].map((s) => s.client.dispose()));
  }, 90000);
});
