import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { CREATE_RUN, INGEST, REAL_DB, REAL_KAFKA, REPORT, bearer, bootPlatform, collectTopic, eventually, gql, newTenant, publishTopic, record, registerFlow, sql, tokenFor } from './harness';
import { mintJwt } from '../scripts/cli';
import type { Platform } from '../scripts/platform';
import type { PlatformConfig } from '../platform/config';

let platform: Platform;
let config: PlatformConfig;
let url: string;

beforeAll(async () => { ({ platform, config, url } = await bootPlatform()); }, 120000);
afterAll(async () => { await platform?.stop(); });

const orchestratorToken = (tenant: string) => mintJwt(config.jwtSecret, { tenant, sub: 'orchestrator-1', scope: 'orchestrator', ttl: 600 });
const RUN = `query($id: ID!) { run(id: $id) { id status attempts output error history { from to reportId } } }`;

async function startRun(tenant: string, extra: Record<string, unknown> = {}) {
  const token = await tokenFor(config, tenant);
  const flowId = await registerFlow(url, token);
  const r = await gql(url, bearer(token), CREATE_RUN, { input: { flowId, input: { question: 'why?' }, ...extra } });
  if (r.body.errors) throw new Error(JSON.stringify(r.body.errors));
  return { token, flowId, runId: r.body.data.createRun.run.id as string, correlationId: r.body.data.createRun.correlationId as string };
}

test('a run goes out on flow_runs, the orchestrator moves it to SUCCEEDED over Kafka, and run, flow, records, history and audit are one query', async () => {
  const tenant = newTenant();
  const { token, flowId, runId, correlationId } = await startRun(tenant);
  const [request] = await collectTopic(platform, 'flow_runs', (vs) => vs.some((v) => v.runId === runId)).then((vs) => vs.filter((v) => v.runId === runId));
  expect(request).toMatchObject({
    key: runId, schema: 'flow_runs.run_requested/v1', runId, tenantId: tenant, flowId, flowVersion: '1', attempt: 1, correlationId,
    input: { question: 'why?' }, requestedBy: 'alice',
    definition: { type: 'DAG', tasks: [expect.objectContaining({ id: 'fetch' }), expect.objectContaining({ id: 'summarize', dependsOn: ['fetch'] })] },
  });

  for (const [i, status] of ['QUEUED', 'RUNNING', 'SUCCEEDED'].entries()) {
    await publishTopic(platform, 'flow_runs.status', runId, { schema: 'flow_runs.status_report/v1', reportId: `rep-${i}`, runId, tenantId: tenant, status, ...(status === 'SUCCEEDED' ? { output: { answer: 42 } } : {}) });
  }
  // A report repeated, one for another tenant, and one that is not JSON change nothing.
  await publishTopic(platform, 'flow_runs.status', runId, { reportId: 'rep-1', runId, tenantId: tenant, status: 'RUNNING' });
  await publishTopic(platform, 'flow_runs.status', runId, { reportId: 'rep-x', runId, tenantId: 'intruder', status: 'FAILED' });
  const done = await eventually(async () => {
    const r = await gql(url, bearer(token), RUN, { id: runId });
    return r.body.data.run.status === 'SUCCEEDED' ? r.body.data.run : undefined;
  }, 30000, 'SUCCEEDED');
  expect(done.output).toEqual({ answer: 42 });
  expect(done.history.map((h: any) => [h.from, h.to, h.reportId])).toEqual([[null, 'PENDING', null], ['PENDING', 'QUEUED', 'rep-0'], ['QUEUED', 'RUNNING', 'rep-1'], ['RUNNING', 'SUCCEEDED', 'rep-2']]);

  const ingest = await gql(url, bearer(token), INGEST, { batch: { batchId: `run-${runId}`, source: 'agent', records: [record('out-1', { a: 1 }, { runId }), record('out-2', { a: 2 }, { runId }), record('other', { a: 3 })] } });
  expect(ingest.body.data.ingestRecords.processed).toBe(3);
  const q = `query($id: ID!) { run(id: $id) { id status flow { id name latestVersion { version } } records { edges { node { recordId run { id status } } } }
    auditEvents { type } } }`;
  const all = await eventually(async () => {
    const r = await gql(url, bearer(token), q, { id: runId });
    return r.body.data?.run.auditEvents.length >= 4 ? r.body : undefined;
  }, 20000, 'run audit events');
  expect(all.errors).toBeUndefined();
  expect(all.data.run.flow).toMatchObject({ id: flowId, latestVersion: { version: '1' } });
  expect(all.data.run.records.edges.map((e: any) => e.node)).toEqual([
    { recordId: 'out-1', run: { id: runId, status: 'SUCCEEDED' } }, { recordId: 'out-2', run: { id: runId, status: 'SUCCEEDED' } },
  ]);
  expect(all.data.run.auditEvents.map((e: any) => e.type)).toEqual(['RUN_CREATED', 'RUN_STATUS_CHANGED', 'RUN_STATUS_CHANGED', 'RUN_STATUS_CHANGED']);
}, 90000);

test('20 concurrent createRun with one requestId make one run', async () => {
  const tenant = newTenant();
  const token = await tokenFor(config, tenant);
  const flowId = await registerFlow(url, token);
  const requestId = randomUUID();
  const replies = await Promise.all(Array.from({ length: 20 }, () => gql(url, bearer(token), CREATE_RUN, { input: { flowId, requestId, input: { n: 1 } } })));
  const results = replies.map((r) => r.body.data.createRun);
  expect(new Set(results.map((r) => r.run.id)).size).toBe(1);
  expect(results.filter((r) => r.created)).toHaveLength(1);
  if (REAL_DB) expect(await sql(`select count(*)::int as n from flow_runs.run where tenant_id = $1 and request_id = $2`, [tenant, requestId])).toEqual([{ n: 1 }]);
  const listed = await gql(url, bearer(token), `{ runs { edges { node { id requestId } } } }`);
  expect(listed.body.data.runs.edges).toEqual([{ node: { id: results[0].run.id, requestId } }]);
});

test('lifecycle through reportRunStatus, cancelRun and retryRun, with illegal moves refused', async () => {
  const tenant = newTenant();
  const { token, runId } = await startRun(tenant);
  const orch = bearer(await orchestratorToken(tenant));
  const report = (reportId: string, status: string, extra: Record<string, unknown> = {}) => gql(url, orch, REPORT, { input: { runId, reportId, status, ...extra } });

  const noScope = await gql(url, bearer(token), REPORT, { input: { runId, reportId: 'x', status: 'QUEUED' } });
  expect(noScope.body.errors[0].extensions.code).toBe('FORBIDDEN');
  expect((await report('r1', 'QUEUED')).body.data.reportRunStatus.status).toBe('QUEUED');
  expect((await report('r1', 'QUEUED')).body.data.reportRunStatus.status).toBe('QUEUED'); // same report again: no change
  expect((await report('r2', 'RUNNING')).body.data.reportRunStatus.status).toBe('RUNNING');
  const back = await report('r3', 'QUEUED');
  expect(back.body.errors[0].extensions).toMatchObject({ code: 'ILLEGAL_TRANSITION', from: 'RUNNING', to: 'QUEUED' });
  expect((await report('r3', 'QUEUED')).body.errors[0].extensions.code).toBe('ILLEGAL_TRANSITION'); // the same answer on replay
  const failed = await report('r4', 'FAILED', { error: { message: 'LLM quota exceeded' } });
  expect(failed.body.data.reportRunStatus).toMatchObject({ status: 'FAILED', error: { message: 'LLM quota exceeded' } });
  const cancelFailed = await gql(url, bearer(token), `mutation($id: ID!) { cancelRun(id: $id) { status } }`, { id: runId });
  expect(cancelFailed.body.errors[0].extensions.code).toBe('ILLEGAL_TRANSITION');

  const retried = await gql(url, bearer(token), `mutation($id: ID!) { retryRun(id: $id) { status attempts output error } }`, { id: runId });
  expect(retried.body.data.retryRun).toEqual({ status: 'PENDING', attempts: 2, output: null, error: null });
  const again = await collectTopic(platform, 'flow_runs', (vs) => vs.some((v) => v.runId === runId && v.attempt === 2));
  expect(again.filter((v) => v.runId === runId).map((v) => [v.schema, v.attempt])).toEqual([['flow_runs.run_requested/v1', 1], ['flow_runs.run_requested/v1', 2]]);

  const cancel = await gql(url, bearer(token), `mutation($id: ID!) { cancelRun(id: $id, reason: "not needed") { status } }`, { id: runId });
  expect(cancel.body.data.cancelRun.status).toBe('CANCELLING');
  expect((await gql(url, bearer(token), `mutation($id: ID!) { cancelRun(id: $id) { status } }`, { id: runId })).body.data.cancelRun.status).toBe('CANCELLING');
  const msgs = await collectTopic(platform, 'flow_runs', (vs) => vs.some((v) => v.runId === runId && v.schema === 'flow_runs.run_cancel_requested/v1'));
  expect(msgs.find((v) => v.runId === runId && v.schema === 'flow_runs.run_cancel_requested/v1')).toMatchObject({ key: runId, reason: 'not needed', attempt: 2 });
  expect((await report('r5', 'CANCELLED')).body.data.reportRunStatus.status).toBe('CANCELLED');
  const retryCancelled = await gql(url, bearer(token), `mutation($id: ID!) { retryRun(id: $id) { status } }`, { id: runId });
  expect(retryCancelled.body.errors[0].extensions.code).toBe('ILLEGAL_TRANSITION');
  const final = await gql(url, bearer(token), RUN, { id: runId });
  expect(final.body.data.run.history.map((h: any) => h.to)).toEqual(['PENDING', 'QUEUED', 'RUNNING', 'FAILED', 'PENDING', 'CANCELLING', 'CANCELLED']);
});

test('a post-task policy fails the run when a task reports an oversized output', async () => {
  const tenant = newTenant();
  const { runId } = await startRun(tenant);
  const orch = bearer(await orchestratorToken(tenant));
  await gql(url, orch, REPORT, { input: { runId, reportId: 'q', status: 'RUNNING' } });
  const r = await gql(url, orch, REPORT, { input: { runId, reportId: 'big', status: 'RUNNING', taskId: 'fetch', taskOutput: { blob: 'x'.repeat(1024 * 1024 + 10) } } });
  expect(r.body.data.reportRunStatus.status).toBe('FAILED');
  expect(r.body.data.reportRunStatus.error).toMatchObject({ code: 'POLICY_VIOLATION', violations: [expect.objectContaining({ policy: 'task-output-size', taskId: 'fetch' })] });
});

test('another tenant cannot read, cancel, report on or list a run', async () => {
  const { runId } = await startRun(newTenant());
  const other = newTenant();
  const b = bearer(await tokenFor(config, other));
  expect((await gql(url, b, RUN, { id: runId })).body).toEqual({ data: { run: null } });
  expect((await gql(url, b, `mutation($id: ID!) { cancelRun(id: $id) { status } }`, { id: runId })).body.errors[0].extensions.code).toBe('NOT_FOUND');
  expect((await gql(url, bearer(await orchestratorToken(other)), REPORT, { input: { runId, reportId: 'z', status: 'QUEUED' } })).body.errors[0].extensions.code).toBe('NOT_FOUND');
  expect((await gql(url, b, `{ runs { edges { node { id } } } }`)).body.data.runs.edges).toEqual([]);
  const rest = await fetch(`${url}/v1/runs/${runId}`, { headers: b });
  expect(rest.status).toBe(404);
  expect(await rest.json()).toEqual({ error: 'NOT_FOUND', detail: `run ${runId} not found` });
});

test('runs: filters, order and cursor pagination', async () => {
  const tenant = newTenant();
  const token = await tokenFor(config, tenant);
  const flowA = await registerFlow(url, token);
  const flowB = await registerFlow(url, token);
  const ids: string[] = [];
  for (const flowId of [flowA, flowB, flowA]) ids.push((await gql(url, bearer(token), CREATE_RUN, { input: { flowId } })).body.data.createRun.run.id);
  await gql(url, bearer(await orchestratorToken(tenant)), REPORT, { input: { runId: ids[2], reportId: 'a', status: 'QUEUED' } });
  const page1 = await gql(url, bearer(token), `{ runs(first: 2) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`);
  expect(page1.body.data.runs.edges.map((e: any) => e.node.id)).toEqual([ids[2], ids[1]]);
  const page2 = await gql(url, bearer(token), `query($a: String) { runs(first: 2, after: $a) { edges { node { id } } pageInfo { hasNextPage } } }`, { a: page1.body.data.runs.pageInfo.endCursor });
  expect(page2.body.data.runs).toEqual({ edges: [{ node: { id: ids[0] } }], pageInfo: { hasNextPage: false } });
  const asc = await gql(url, bearer(token), `query($f: ID) { runs(orderBy: CREATED_AT_ASC, filter: { flowId: $f }) { edges { node { id } } } }`, { f: flowA });
  expect(asc.body.data.runs.edges.map((e: any) => e.node.id)).toEqual([ids[0], ids[2]]);
  const queued = await gql(url, bearer(token), `{ runs(filter: { status: [QUEUED], createdBy: "alice" }) { edges { node { id } } } }`);
  expect(queued.body.data.runs.edges.map((e: any) => e.node.id)).toEqual([ids[2]]);
  const future = await gql(url, bearer(token), `{ runs(filter: { from: "2999-01-01T00:00:00Z" }) { edges { node { id } } } }`);
  expect(future.body.data.runs.edges).toEqual([]);
});

test('status cache: a read after a committed transition never returns the old status', async () => {
  const tenant = newTenant();
  const { token, runId } = await startRun(tenant);
  const orch = bearer(await orchestratorToken(tenant));
  const flowRuns = platform.subgraphs.find((s) => s.name === 'flow-runs') as unknown as { deps: { cache: { kind: string; get(id: string): Promise<any> } } };
  expect(flowRuns.deps.cache.kind).toBe(process.env.REDIS_URL ? 'redis' : 'memory');
  const read = async () => (await gql(url, bearer(token), `query($id: ID!) { run(id: $id) { status } }`, { id: runId })).body.data.run.status;
  expect(await read()).toBe('PENDING');
  expect((await flowRuns.deps.cache.get(runId))?.data?.status).toBe('PENDING'); // the read filled the cache
  // Readers hammer the run while it moves; every read that starts after a transition's reply sees that status or a later one.
  const order = ['PENDING', 'QUEUED', 'RUNNING', 'CANCELLING', 'CANCELLED'];
  let committed = 0;
  let stale = 0;
  let stop = false;
  const readers = Array.from({ length: 4 }, async () => {
    while (!stop) {
      const floor = committed;
      const seen = order.indexOf(await read());
      if (seen < floor) stale++;
    }
  });
  const steps: Array<() => Promise<any>> = [
    () => gql(url, orch, REPORT, { input: { runId, reportId: 'c1', status: 'QUEUED' } }),
    () => gql(url, orch, REPORT, { input: { runId, reportId: 'c2', status: 'RUNNING' } }),
    () => gql(url, bearer(token), `mutation($id: ID!) { cancelRun(id: $id) { status } }`, { id: runId }),
    () => gql(url, orch, REPORT, { input: { runId, reportId: 'c3', status: 'CANCELLED' } }),
  ];
  for (const [i, step] of steps.entries()) {
    const r = await step();
    expect(r.body.errors).toBeUndefined();
    committed = i + 1;
    expect(await read()).toBe(order[i + 1]);
    await new Promise((res) => setTimeout(res, 50));
  }
  stop = true;
  await Promise.all(readers);
  expect(stale).toBe(0);
  expect((await flowRuns.deps.cache.get(runId))?.data?.status).toBe('CANCELLED');
});

(REAL_KAFKA && REAL_DB ? test : test.skip)('run requests wait in the outbox while Kafka is down and all arrive after it restarts', async () => {
  const kafka = join(__dirname, '..', 'scripts', 'kafka.sh');
  const tenant = newTenant();
  const token = await tokenFor(config, tenant);
  const flowId = await registerFlow(url, token);
  const runIds: string[] = [];
  execFileSync('bash', [kafka, 'stop'], { stdio: 'inherit' });
  try {
    for (let i = 0; i < 5; i++) runIds.push((await gql(url, bearer(token), CREATE_RUN, { input: { flowId } })).body.data.createRun.run.id);
    await new Promise((res) => setTimeout(res, 1000));
    const pending = await sql(`select count(*)::int as n from flow_runs.outbox where published_at is null and topic = 'flow_runs'`);
    expect(pending[0].n).toBeGreaterThanOrEqual(5);
  } finally {
    execFileSync('bash', [kafka, 'start'], { stdio: 'inherit' });
  }
  const seen = await collectTopic(platform, 'flow_runs', (vs) => runIds.every((id) => vs.some((v) => v.runId === id)), 90000);
  expect(runIds.every((id) => seen.filter((v) => v.runId === id).length >= 1)).toBe(true);
}, 180000);
if (!REAL_KAFKA || !REAL_DB) console.warn('runs.test: DATABASE_URL/KAFKA_BROKERS not set; the Kafka restart test is skipped');

test('a run whose input is near the size limit goes out on flow_runs and does not hold up the runs after it', async () => {
  const tenant = newTenant();
  const token = await tokenFor(config, tenant);
  const flowId = await registerFlow(url, token);
  const big = await gql(url, bearer(token), CREATE_RUN, { input: { flowId, input: { blob: 'z'.repeat(config.maxPayloadBytes - 100) } } });
  const tooBig = await gql(url, bearer(token), CREATE_RUN, { input: { flowId, input: { blob: 'z'.repeat(config.maxPayloadBytes) } } });
  expect(tooBig.body.errors[0].extensions.code).toBe('PAYLOAD_TOO_LARGE');
  const small = await gql(url, bearer(token), CREATE_RUN, { input: { flowId, input: { n: 1 } } });
  const ids = [big.body.data.createRun.run.id, small.body.data.createRun.run.id];
  const seen = await collectTopic(platform, 'flow_runs', (vs) => ids.every((id) => vs.some((v) => v.runId === id)), 60000);
  expect(seen.find((v) => v.runId === ids[0]).input.blob).toHaveLength(config.maxPayloadBytes - 100);
}, 90000);
