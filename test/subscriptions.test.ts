import { copyFileSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createClient as createSseClient } from 'graphql-sse';
import { CREATE_RUN, INGEST, REPORT, bearer, bootPlatform, collect, eventually, gql, newTenant, record, registerFlow, tokenFor, wsClient } from './harness';
import { mintJwt } from '../scripts/cli';
import { SUPERGRAPH_PATH, type Platform } from '../scripts/platform';
import type { PlatformConfig } from '../platform/config';

let platform: Platform;
let config: PlatformConfig;
let url: string;
let supergraphPath: string;

beforeAll(async () => {
  supergraphPath = join(mkdtempSync(join(tmpdir(), 'supergraph-')), 'supergraph.graphql');
  copyFileSync(SUPERGRAPH_PATH, supergraphPath);
  ({ platform, config, url } = await bootPlatform({ maxSubscriptionsPerConnection: 5, maxConnectionsPerTenant: 3, subscriptionBufferEvents: 5, subscriptionAuthRecheckMs: 300 }, supergraphPath));
}, 120000);
afterAll(async () => { await platform?.stop(); });
// Every test starts from zero subscriptions, so the counts below are exact and a leak fails the next test loudly.
beforeEach(async () => {
  await eventually(async () => (platform.gateway.subscriptions().clients === 0 ? true : undefined), 10000, 'no subscriptions left from the previous test');
});

/** Creation (→ PENDING) may still be on its way when a test subscribes; the statuses filter keeps tests exact. */
const STATUS = `subscription($runId: ID, $since: String, $statuses: [RunStatus!] = [QUEUED, RUNNING, SUCCEEDED, FAILED, TIMED_OUT, CANCELLING, CANCELLED]) {
  runStatusChanged(runId: $runId, since: $since, statuses: $statuses) { eventId previousStatus status } }`;
const orchestrator = (tenant: string) => mintJwt(config.jwtSecret, { tenant, sub: 'orch', scope: 'orchestrator', ttl: 600 });

async function newRun(tenant: string) {
  const token = await tokenFor(config, tenant);
  const flowId = await registerFlow(url, token);
  const r = await gql(url, bearer(token), CREATE_RUN, { input: { flowId, input: { big: 'x' } } });
  return { token, flowId, runId: r.body.data.createRun.run.id as string };
}

async function report(tenant: string, runId: string, reportId: string, status: string) {
  const r = await gql(url, bearer(await orchestrator(tenant)), REPORT, { input: { runId, reportId, status } });
  if (r.body.errors) throw new Error(JSON.stringify(r.body.errors));
}

/** Waits until the gateway holds `n` client subscriptions (so events sent next are not missed). */
const subscribed = (n: number) => eventually(async () => (platform.gateway.subscriptions().clients >= n ? true : undefined), 10000, `${n} subscriptions`);

test('over WebSocket with an API key: every status change, with fields from three subgraphs, in order', async () => {
  const tenant = newTenant();
  const { token, runId } = await newRun(tenant);
  await gql(url, bearer(token), INGEST, { batch: { batchId: 'sub', source: 'agent', records: [record('r1', { a: 1 }, { runId })] } });
  const { key } = await platform.gateway.keys.create(tenant, 'partner');
  const { client } = wsClient(url, { apiKey: key });
  const q = `subscription($runId: ID) { runStatusChanged(runId: $runId, statuses: [QUEUED, RUNNING, SUCCEEDED]) { eventId previousStatus status
    run { id status flow { name } records { edges { node { recordId } } } auditEvents { type } } } }`;
  const sub = collect(client, q, { runId }, (rs) => rs.length === 3);
  await subscribed(1);
  for (const [i, s] of ['QUEUED', 'RUNNING', 'SUCCEEDED'].entries()) await report(tenant, runId, `w${i}`, s);
  const { results, error } = await sub.done;
  expect(error).toBeUndefined();
  expect(results.map((r) => [r.data.runStatusChanged.previousStatus, r.data.runStatusChanged.status])).toEqual([['PENDING', 'QUEUED'], ['QUEUED', 'RUNNING'], ['RUNNING', 'SUCCEEDED']]);
  const last = results[2].data.runStatusChanged;
  expect(last.run).toMatchObject({ id: runId, flow: { name: expect.stringMatching(/^flow-/) }, records: { edges: [{ node: { recordId: 'r1' } }] } });
  expect(last.run.auditEvents.map((e: any) => e.type)).toContain('RUN_CREATED');
  const ids = results.map((r) => BigInt(r.data.runStatusChanged.eventId));
  expect([...ids].sort((a, b) => (a < b ? -1 : 1))).toEqual(ids);
  await client.dispose();
});

test('over Server-Sent Events (graphql-sse client), and queries work on the stream transports too', async () => {
  const tenant = newTenant();
  const { token, runId } = await newRun(tenant);
  const sse = createSseClient({ url: `${url}/graphql`, headers: bearer(token), retryAttempts: 0 });
  const got: any[] = [];
  const finished = new Promise<void>((resolve, reject) => {
    const dispose = sse.subscribe({ query: STATUS, variables: { runId } }, {
      next: (r) => { got.push(r); if (got.length === 2) { dispose(); resolve(); } },
      error: reject, complete: () => resolve(),
    });
  });
  await subscribed(1);
  await report(tenant, runId, 's1', 'QUEUED');
  await report(tenant, runId, 's2', 'RUNNING');
  await finished;
  expect(got.map((r) => r.data.runStatusChanged.status)).toEqual(['QUEUED', 'RUNNING']);
  sse.dispose();
  const { client } = wsClient(url, { authorization: `Bearer ${token}` });
  const query = collect(client, `query($id: ID!) { run(id: $id) { status } }`, { id: runId });
  expect((await query.done).results).toEqual([{ data: { run: { status: 'RUNNING' } } }]);
  await client.dispose();
});

test('auth failures: no socket survives bad credentials, SSE answers 401, and a plain POST subscription gets a clear 400', async () => {
  const expired = await tokenFor(config, 't', 'u', -10);
  for (const params of [{}, { authorization: 'Bearer nope' }, { authorization: `Bearer ${expired}` }, { apiKey: 'pk_unknown' }]) {
    const { client, closed } = wsClient(url, params);
    const { error } = await collect(client, STATUS).done;
    expect(error).toBeDefined();
    expect(closed.code).toBe(4401);
  }
  const sse = await fetch(`${url}/graphql`, { method: 'POST', headers: { accept: 'text/event-stream', 'content-type': 'application/json' }, body: JSON.stringify({ query: STATUS }) });
  expect(sse.status).toBe(401);
  expect((await sse.json()).errors[0].extensions.code).toBe('UNAUTHENTICATED');
  const post = await gql(url, bearer(await tokenFor(config, newTenant())), STATUS);
  expect(post.status).toBe(400);
  expect(post.body.errors[0].extensions.code).toBe('SUBSCRIPTION_TRANSPORT_REQUIRED');
  expect(post.body.errors[0].message).toMatch(/graphql-transport-ws.*text\/event-stream/);
  expect(platform.gateway.subscriptions().clients).toBe(0);
});

test('tenant isolation: tenant B subscribed to tenant A\'s run id receives nothing while A receives the event', async () => {
  const a = newTenant();
  const { token, runId } = await newRun(a);
  const b = wsClient(url, { authorization: `Bearer ${await tokenFor(config, newTenant())}` });
  const mine = wsClient(url, { authorization: `Bearer ${token}` });
  const theirs = collect(b.client, STATUS, { runId });
  const ours = collect(mine.client, STATUS, { runId }, (rs) => rs.length === 1);
  await subscribed(2);
  await report(a, runId, 'iso', 'QUEUED');
  expect((await ours.done).results[0].data.runStatusChanged.status).toBe('QUEUED');
  await new Promise((r) => setTimeout(r, 500));
  expect(theirs.results).toEqual([]);
  theirs.dispose();
  await Promise.all([b.client.dispose(), mine.client.dispose()]);
});

test('since: replay from the database, then live, with no gap and no duplicate at the seam', async () => {
  const tenant = newTenant();
  const { token, runId } = await newRun(tenant);
  const { client } = wsClient(url, { authorization: `Bearer ${token}` });
  const first = collect(client, STATUS, { runId }, (rs) => rs.length === 1);
  await subscribed(1);
  await report(tenant, runId, 'a', 'QUEUED');
  const seen = (await first.done).results[0].data.runStatusChanged.eventId;
  // Disconnected: these happen while the client is away.
  await report(tenant, runId, 'b', 'RUNNING');
  await gql(url, bearer(token), `mutation($id: ID!) { cancelRun(id: $id) { status } }`, { id: runId });
  // Reconnect with since while the last change races the replay.
  const resumed = collect(client, STATUS, { runId, since: seen }, (rs) => rs.length === 3);
  const racing = report(tenant, runId, 'c', 'CANCELLED');
  const { results, error } = await resumed.done;
  await racing;
  expect(error).toBeUndefined();
  expect(results.map((r) => r.data.runStatusChanged.status)).toEqual(['RUNNING', 'CANCELLING', 'CANCELLED']);
  const ids = results.map((r) => r.data.runStatusChanged.eventId);
  expect(new Set(ids).size).toBe(3);
  expect(ids.every((id: string) => BigInt(id) > BigInt(seen))).toBe(true);
  const bad = await collect(client, STATUS, { runId, since: 'not-an-id' }).done;
  expect(JSON.stringify(bad)).toMatch(/BAD_USER_INPUT/);
  await client.dispose();
});

test('identical subscriptions share one upstream; 1,000 subscribe/unsubscribe cycles leave nothing behind', async () => {
  const tenant = newTenant();
  const { token, runId } = await newRun(tenant);
  const flowRuns = platform.subgraphs.find((s) => s.name === 'flow-runs')!;
  const health = async () => (await (await fetch(flowRuns.url.replace(/\/graphql$/, '/health'))).json()) as { subscriptions: number; sockets: number };
  const baseline = await health();
  const { client } = wsClient(url, { authorization: `Bearer ${token}` });
  const one = collect(client, STATUS, { runId }, (rs) => rs.length === 1);
  const two = collect(client, STATUS, { runId }, (rs) => rs.length === 1);
  await subscribed(2);
  expect(platform.gateway.subscriptions()).toMatchObject({ shared: 1, clients: 2, upstream: 1 });
  await report(tenant, runId, 'd1', 'QUEUED');
  const [r1, r2] = await Promise.all([one.done, two.done]);
  expect(r1.results).toEqual(r2.results);
  for (let i = 0; i < 1000; i++) {
    const s = collect(client, STATUS, { runId: i % 2 ? runId : null });
    if (i % 100 === 0) await new Promise((r) => setImmediate(r));
    s.dispose();
  }
  await client.dispose();
  await eventually(async () => (platform.gateway.subscriptions().clients === 0 && platform.gateway.subscriptions().upstream === 0 ? true : undefined), 10000, 'gateway back to zero');
  await eventually(async () => {
    const h = await health();
    return h.subscriptions === baseline.subscriptions && h.sockets === baseline.sockets ? true : undefined;
  }, 10000, 'subgraph back to baseline');
});

test('limits: subscriptions per connection and connections per tenant', async () => {
  const tenant = newTenant();
  const token = await tokenFor(config, tenant);
  const { client } = wsClient(url, { authorization: `Bearer ${token}` });
  const subs = Array.from({ length: 5 }, () => collect(client, STATUS));
  await subscribed(5);
  const sixth = await collect(client, STATUS).done;
  expect(JSON.stringify(sixth)).toMatch(/SUBSCRIPTION_LIMIT/);
  // The first connection stays open (a lazy client closes its socket when its last subscription ends).
  const others = [wsClient(url, { authorization: `Bearer ${token}` }), wsClient(url, { authorization: `Bearer ${token}` })];
  const held = others.map((o) => collect(o.client, STATUS));
  await subscribed(7);
  const fourth = wsClient(url, { authorization: `Bearer ${token}` });
  await collect(fourth.client, STATUS).done;
  expect(fourth.closed.code).toBe(4429);
  held.forEach((h) => h.dispose());
  subs.forEach((s) => s.dispose());
  await Promise.all([client.dispose(), ...others.map((o) => o.client.dispose())]);
});

test('a JWT that expires and an API key that is revoked end their subscriptions with UNAUTHENTICATED', async () => {
  const tenant = newTenant();
  const shortLived = await tokenFor(config, tenant, 'bob', 4);
  const a = wsClient(url, { authorization: `Bearer ${shortLived}` }, false);
  const expiring = collect(a.client, STATUS);
  const { id, key } = await platform.gateway.keys.create(tenant, 'partner');
  const b = wsClient(url, { apiKey: key }, false);
  const revoked = collect(b.client, STATUS);
  await subscribed(2);
  await platform.gateway.keys.revoke(id);
  const [r1, r2] = await Promise.all([expiring.done, revoked.done]);
  for (const [r, closed, reason] of [[r1, a.closed, /expired/], [r2, b.closed, /revoked/]] as const) {
    expect(JSON.stringify(r.results)).toMatch(/UNAUTHENTICATED/);
    expect(JSON.stringify(r.results)).toMatch(reason);
    await eventually(async () => (closed.code === 4401 ? true : undefined), 5000, 'close 4401');
  }
});

test('a slow client gets a bounded buffer and is cut off with SUBSCRIBER_TOO_SLOW', async () => {
  const tenant = newTenant();
  const token = await tokenFor(config, tenant);
  const flowId = await registerFlow(url, token);
  const WebSocket = require('ws');
  const socket = new WebSocket(`${url.replace(/^http/, 'ws')}/graphql`, 'graphql-transport-ws');
  const messages: any[] = [];
  socket.on('message', (m: Buffer) => messages.push(JSON.parse(m.toString())));
  await new Promise((r) => socket.once('open', r));
  socket.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } }));
  await eventually(async () => (messages.some((m) => m.type === 'connection_ack') ? true : undefined));
  socket.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: `subscription { runStatusChanged { status run { input } } }` } }));
  await subscribed(1);
  socket._socket.pause(); // stop reading: the gateway's writes back up
  const blob = 'y'.repeat(900 * 1024);
  for (let i = 0; i < 30 && platform.gateway.subscriptions().clients > 0; i++) await gql(url, bearer(token), CREATE_RUN, { input: { flowId, input: { blob, i } } });
  await eventually(async () => (platform.gateway.subscriptions().clients === 0 ? true : undefined), 30000, 'slow client dropped');
  socket._socket.resume();
  await eventually(async () => (messages.some((m) => m.type === 'complete') ? true : undefined), 30000, 'complete');
  const errors = messages.filter((m) => m.type === 'next' && m.payload.errors).map((m) => m.payload.errors[0].extensions.code);
  expect(errors).toEqual(['SUBSCRIBER_TOO_SLOW']);
  expect(messages.filter((m) => m.type === 'next').length).toBeLessThan(30);
  socket.close();
}, 120000);

test('a supergraph reload ends subscriptions with a retryable SUPERGRAPH_RELOADED; new ones work', async () => {
  const tenant = newTenant();
  const { token, runId } = await newRun(tenant);
  const { client } = wsClient(url, { authorization: `Bearer ${token}` });
  const before = collect(client, STATUS, { runId });
  await subscribed(1);
  writeFileSync(supergraphPath, `${readFileSync(supergraphPath, 'utf8')}\n# reloaded\n`);
  const { results } = await before.done;
  expect(results[results.length - 1].errors[0].extensions).toMatchObject({ code: 'SUPERGRAPH_RELOADED', retryable: true });
  const after = collect(client, STATUS, { runId }, (rs) => rs.length === 1);
  await subscribed(1);
  await report(tenant, runId, 'after', 'QUEUED');
  expect((await after.done).results[0].data.runStatusChanged.status).toBe('QUEUED');
  await client.dispose();
}, 30000);

test('a subgraph going away ends its subscriptions with a retryable SUBSCRIPTION_UPSTREAM_CLOSED', async () => {
  const tenant = newTenant();
  const { token } = await newRun(tenant);
  const { client } = wsClient(url, { authorization: `Bearer ${token}` });
  const audit = collect(client, `subscription { auditEvents { id hash } }`);
  const runs = collect(client, STATUS);
  await subscribed(2);
  const auditSubgraph = platform.subgraphs.find((s) => s.name === 'audit')!;
  await auditSubgraph.stop();
  const { results } = await audit.done;
  expect(results[results.length - 1].errors[0].extensions).toMatchObject({ code: 'SUBSCRIPTION_UPSTREAM_CLOSED', retryable: true, service: 'audit' });
  expect(platform.gateway.subscriptions().clients).toBe(1); // the flow-runs one lives on
  runs.dispose();
  await client.dispose();
  platform.subgraphs.splice(platform.subgraphs.indexOf(auditSubgraph), 1); // stopped already
}, 30000);
