import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { CREATE_RUN, REAL_DB, REAL_KAFKA, REPORT, bearer, collect, eventually, gql, newTenant, registerFlow, wsClient } from './harness';
import { mintJwt } from '../scripts/cli';
import { loadConfig } from '../platform/config';

/**
 * Two gateways and two flow-runs processes (plus records and audit) against one Kafka and one Postgres, each its own
 * OS process as in production: a run created through gateway 1 and moved through flow-runs instance 2 reaches the
 * subscribers of both gateways, every event exactly once, in order.
 */
const realOnly = REAL_DB && REAL_KAFKA ? describe : describe.skip;
if (!REAL_DB || !REAL_KAFKA) console.warn('subscriptions-multi.test: needs DATABASE_URL and KAFKA_BROKERS (several processes share them); skipped');

const PORTS = { records: 4911, audit: 4912, runs1: 4913, runs2: 4914, gw1: 4915, gw2: 4916 };
const children: ChildProcess[] = [];
const config = loadConfig();

function serve(component: string, env: Record<string, string>): void {
  const child = spawn(process.execPath, [join(__dirname, '..', 'dist', 'scripts', 'serve.js'), component], {
    env: { ...process.env, LOG_REQUESTS: '0', RECORDS_URL: `http://127.0.0.1:${PORTS.records}/graphql`, AUDIT_URL: `http://127.0.0.1:${PORTS.audit}/graphql`, ...env },
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

realOnly('two gateways × two flow-runs processes on one Kafka', () => {
  beforeAll(async () => {
    serve('records', { RECORDS_PORT: String(PORTS.records) });
    serve('audit', { AUDIT_PORT: String(PORTS.audit) });
    serve('flow-runs', { FLOW_RUNS_PORT: String(PORTS.runs1) });
    serve('flow-runs', { FLOW_RUNS_PORT: String(PORTS.runs2) });
    for (const p of [PORTS.records, PORTS.audit, PORTS.runs1, PORTS.runs2]) await healthy(p);
    serve('gateway', { GATEWAY_PORT: String(PORTS.gw1), FLOW_RUNS_URL: `http://127.0.0.1:${PORTS.runs1}/graphql` });
    serve('gateway', { GATEWAY_PORT: String(PORTS.gw2), FLOW_RUNS_URL: `http://127.0.0.1:${PORTS.runs2}/graphql` });
    await healthy(PORTS.gw1, '/ready');
    await healthy(PORTS.gw2, '/ready');
  }, 180000);

  afterAll(async () => {
    await Promise.all(children.map((c) => new Promise((res) => { c.once('exit', res); c.kill('SIGTERM'); setTimeout(() => c.kill('SIGKILL'), 15000).unref(); })));
  }, 30000);

  test('every subscriber on both gateways sees each status change once, in order', async () => {
    const gw1 = `http://127.0.0.1:${PORTS.gw1}`;
    const gw2 = `http://127.0.0.1:${PORTS.gw2}`;
    const tenant = newTenant();
    const token = await mintJwt(config.jwtSecret, { tenant, sub: 'alice' });
    const orch = await mintJwt(config.jwtSecret, { tenant, sub: 'orch', scope: 'orchestrator' });
    const flowId = await registerFlow(gw1, token);
    const created = await gql(gw1, bearer(token), CREATE_RUN, { input: { flowId, requestId: randomUUID() } });
    const runId = created.body.data.createRun.run.id;
    const q = `subscription($runId: ID) { runStatusChanged(runId: $runId, statuses: [QUEUED, RUNNING, SUCCEEDED]) { eventId status run { id flow { id } } } }`;
    const subscribers = [wsClient(gw1, { authorization: `Bearer ${token}` }), wsClient(gw1, { authorization: `Bearer ${token}` }), wsClient(gw2, { authorization: `Bearer ${token}` })];
    const streams = subscribers.map((s) => collect(s.client, q, { runId }));
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
      expect(s.results.every((e) => e.data.runStatusChanged.run.flow.id === flowId)).toBe(true);
      s.dispose();
    }
    await Promise.all(subscribers.map((s) => s.client.dispose()));
  }, 90000);
});
