import { randomUUID } from 'node:crypto';
import WebSocket from 'ws';
import { createClient, type Client } from 'graphql-ws';
import { signIdentity, type Identity } from '../platform/identity';
import { LiveHub, replayThenLive, type LiveEvent } from '../platform/live-feed';
import type { Database } from '../platform/db';
import type { Platform } from '../scripts/platform';
import type { PlatformConfig } from '../platform/config';
import { mintJwt } from '../scripts/cli';
import { CREATE_RUN, REPORT, bearer, bootPlatform, eventually, gql, newTenant, registerFlow, tokenFor } from './harness';

/** The subgraph side of federated subscriptions: graphql-ws straight on the flow-runs and audit subgraphs. */

const BUFFER = 20; // events one subscriber may have waiting (small, so the slow-subscriber test stays small)
let platform: Platform;
let config: PlatformConfig;
let url: string;
const clients: Client[] = [];

beforeAll(async () => { ({ platform, config, url } = await bootPlatform({ subscriptionBufferEvents: BUFFER })); }, 120000);
afterAll(async () => {
  await Promise.all(clients.map((c) => c.dispose()));
  await platform?.stop();
});

type SubgraphName = 'flow-runs' | 'audit';
const subgraph = (name: SubgraphName) => platform.subgraphs.find((s) => s.name === name) as Platform['subgraphs'][number] & { db: Database };
const wsUrl = (name: SubgraphName) => subgraph(name).url.replace(/^http/, 'ws');
const health = async (name: SubgraphName) => (await fetch(subgraph(name).url.replace(/\/graphql$/, '/health'))).json();

const signed = (identity: Omit<Identity, 'correlationId'>) => signIdentity({ ...identity, correlationId: randomUUID() }, config.internalSecret);
/** What the gateway presents in connection_init. */
const gatewayIdentity = () => signed({ tenantId: 'platform', subject: 'gateway', kind: 'system', scopes: [] });
/** What the gateway puts in each subscribe message: the subscriber. */
const tenantIdentity = (tenantId: string) => signed({ tenantId, subject: 'alice', kind: 'user', scopes: [] });

function connect(name: SubgraphName, connectionParams: Record<string, unknown> = { identity: gatewayIdentity() }) {
  const closed: { code?: number; reason?: string } = {};
  const client = createClient({
    url: wsUrl(name), webSocketImpl: WebSocket, lazy: true, retryAttempts: 0, connectionParams,
    on: { closed: (e: any) => { closed.code = e?.code; closed.reason = String(e?.reason ?? ''); } },
  });
  clients.push(client);
  return { client, closed };
}

/** One subscription's results, and its end (an error or completion). */
function subscribe(client: Client, query: string, variables: Record<string, unknown>, identity?: string) {
  const s = { results: [] as any[], error: undefined as any, completed: false, dispose: () => {} };
  s.dispose = client.subscribe({ query, variables, ...(identity ? { extensions: { identity } } : {}) }, {
    next: (r) => { s.results.push(r); },
    error: (e) => { s.error = e; },
    complete: () => { s.completed = true; },
  });
  return s;
}

const until = <T>(check: () => T | undefined | false, what: string, ms = 20000) => eventually(async () => check() || undefined, ms, what);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Waits until the subgraph reports `n` more open subscriptions than `base`: the subscription is then listening. */
async function listening(name: SubgraphName, base: number, n = 1) {
  await eventually(async () => ((await health(name)).subscriptions >= base + n ? true : undefined), 10000, `${n} subscription(s) on ${name}`);
}

const RUN_EVENTS = `subscription($runId: ID, $flowId: ID, $statuses: [RunStatus!], $since: String) {
  runStatusChanged(runId: $runId, flowId: $flowId, statuses: $statuses, since: $since) { eventId runId previousStatus status at run { id status } } }`;
const AUDIT_EVENTS = `subscription($filter: AuditEventStreamFilter, $since: String) {
  auditEvents(filter: $filter, since: $since) { id type subject tenantId correlationId hash prevHash } }`;

async function tenantWithRun(input: unknown = { q: 1 }) {
  const tenant = newTenant();
  const token = await tokenFor(config, tenant);
  const orchestrator = await mintJwt(config.jwtSecret, { tenant, sub: 'orchestrator-1', scope: 'orchestrator', ttl: 600 });
  const flowId = await registerFlow(url, token);
  const r = await gql(url, bearer(token), CREATE_RUN, { input: { flowId, input } });
  if (r.body.errors) throw new Error(JSON.stringify(r.body.errors));
  const runId: string = r.body.data.createRun.run.id;
  let reports = 0;
  const report = async (status: string) => {
    const res = await gql(url, bearer(orchestrator), REPORT, { input: { runId, reportId: `rep-${reports++}`, status } });
    if (res.body.errors) throw new Error(JSON.stringify(res.body.errors));
  };
  const retry = async () => {
    const res = await gql(url, bearer(token), `mutation($id: ID!) { retryRun(id: $id) { status } }`, { id: runId });
    if (res.body.errors) throw new Error(JSON.stringify(res.body.errors));
  };
  /** QUEUED → RUNNING → FAILED → (retry) PENDING: four events. */
  const cycle = async () => { for (const s of ['QUEUED', 'RUNNING', 'FAILED']) await report(s); await retry(); };
  return { tenant, token, flowId, runId, report, cycle };
}

/** The run's history ids straight from the database, oldest first. */
async function transitionIds(runId: string): Promise<string[]> {
  const rows = await subgraph('flow-runs').db.em().getConnection().execute(`select id from flow_runs.run_transition where run_id = ? order by id`, [runId]);
  return rows.map((r) => String(r.id));
}

test('a connection without a valid gateway identity is closed with 4403 and opens nothing', async () => {
  const before = await health('flow-runs');
  for (const params of [{}, { identity: 'forged.signature' }, { identity: signIdentity({ tenantId: 'x', subject: 'gateway', kind: 'system', scopes: [], correlationId: 'c' }, 'wrong-secret') }]) {
    const { client, closed } = connect('flow-runs', params);
    const s = subscribe(client, RUN_EVENTS, {}, tenantIdentity('t-any'));
    await until(() => s.error, 'the refusal');
    expect(s.error.code ?? closed.code).toBe(4403);
  }
  await eventually(async () => ((await health('flow-runs')).sockets === before.sockets ? true : undefined), 5000, 'sockets closed');
  expect((await health('flow-runs')).subscriptions).toBe(before.subscriptions);
});

test('a subscription without a valid subscriber identity is refused with UNAUTHENTICATED; queries go over HTTP', async () => {
  const { client } = connect('flow-runs');
  for (const identity of [undefined, 'forged.signature']) {
    const s = subscribe(client, RUN_EVENTS, {}, identity);
    await until(() => s.error, 'the error');
    expect(s.error[0].extensions.code).toBe('UNAUTHENTICATED');
  }
  const q = subscribe(client, `{ flows { edges { cursor } } }`, {}, tenantIdentity('t-any'));
  await until(() => q.error, 'the refusal of a query');
  expect(q.error[0].extensions.code).toBe('BAD_REQUEST');
});

test('a status change made through the gateway arrives with eventId, previousStatus, status and run; another tenant gets nothing', async () => {
  const a = await tenantWithRun();
  const b = await tenantWithRun();
  const { client } = connect('flow-runs');
  const base = (await health('flow-runs')).subscriptions;
  const mine = subscribe(client, RUN_EVENTS, { runId: a.runId }, tenantIdentity(a.tenant));
  const intruder = subscribe(client, RUN_EVENTS, { runId: a.runId }, tenantIdentity(b.tenant));
  const runningOnly = subscribe(client, RUN_EVENTS, { flowId: a.flowId, statuses: ['RUNNING'] }, tenantIdentity(a.tenant));
  const bAll = subscribe(client, RUN_EVENTS, {}, tenantIdentity(b.tenant));
  await listening('flow-runs', base, 4);

  await a.report('QUEUED');
  await a.report('RUNNING');
  await b.report('QUEUED');
  // The creations committed before subscribing, though possibly still on their way through the outbox, never arrive.
  const changes = (s: { results: any[] }) => s.results.map((r) => r.data.runStatusChanged);
  await until(() => changes(mine).length >= 2 && changes(bAll).length >= 1 && runningOnly.results.length >= 1, 'the events');
  const [queued, running] = changes(mine);
  expect(queued).toMatchObject({ runId: a.runId, previousStatus: 'PENDING', status: 'QUEUED', run: { id: a.runId } });
  expect(queued.eventId).toMatch(/^[0-9]+$/);
  expect(new Date(queued.at).getTime()).toBeGreaterThan(Date.now() - 60000);
  expect(running).toMatchObject({ previousStatus: 'QUEUED', status: 'RUNNING', run: { id: a.runId, status: 'RUNNING' } });
  expect(BigInt(running.eventId)).toBeGreaterThan(BigInt(queued.eventId));
  expect(runningOnly.results.map((r) => r.data.runStatusChanged.eventId)).toEqual([running.eventId]);
  expect(changes(bAll)).toEqual([expect.objectContaining({ runId: b.runId, status: 'QUEUED' })]);
  await sleep(500);
  expect(intruder.results).toEqual([]);
  expect(changes(mine)).toHaveLength(2);
  for (const s of [mine, intruder, runningOnly, bAll]) s.dispose();
});

test('bad arguments: since of another tenant, unknown or not a number; malformed ids', async () => {
  const a = await tenantWithRun();
  const b = await tenantWithRun();
  const [created] = await transitionIds(b.runId);
  const { client } = connect('flow-runs');
  for (const variables of [{ since: created }, { since: '999999999999' }, { since: 'abc' }, { runId: 'not-a-uuid' }]) {
    const s = subscribe(client, RUN_EVENTS, variables, tenantIdentity(a.tenant));
    await until(() => s.completed || s.error, 'the answer');
    expect(s.results[0]?.errors?.[0]?.extensions?.code ?? s.error?.[0]?.extensions?.code).toBe('BAD_USER_INPUT');
  }
  const bad = subscribe(client, RUN_EVENTS, { statuses: ['NOPE'] }, tenantIdentity(a.tenant));
  await until(() => bad.completed || bad.error, 'the validation error');
  expect((bad.results[0]?.errors ?? bad.error)[0].message).toMatch(/RunStatus/);
});

test('since: the stored events after it, then live ones, with no gap and no duplicate at the seam', async () => {
  const r = await tenantWithRun();
  await r.cycle();
  const early = (await transitionIds(r.runId))[1];
  const { client } = connect('flow-runs');
  // Subscribers join at different moments while changes keep committing, so some join mid-stream.
  let produced = false;
  const producing = (async () => { for (let i = 0; i < 10; i++) await r.cycle(); produced = true; })();
  const subs = [];
  for (let i = 0; i < 4; i++) {
    subs.push(subscribe(client, RUN_EVENTS, { runId: r.runId, since: early }, tenantIdentity(r.tenant)));
    await sleep(100);
  }
  expect(produced).toBe(false); // every subscriber joined while changes were still committing
  await producing;
  const expected = (await transitionIds(r.runId)).filter((id) => BigInt(id) > BigInt(early));
  expect(expected.length).toBe(3 + 40);
  for (const s of subs) await until(() => s.results.length >= expected.length, `${expected.length} events`);
  await sleep(500); // a duplicate would arrive now
  for (const s of subs) {
    expect(s.error).toBeUndefined();
    expect(s.results.map((x) => x.data.runStatusChanged.eventId)).toEqual(expected);
  }
  subs.forEach((s) => s.dispose());
}, 90000);

test('audit: stored events with their hash chain, filtered; since replays what followed', async () => {
  const r = await tenantWithRun();
  const { client } = connect('audit');
  const base = (await health('audit')).subscriptions;
  const statusOfRun = subscribe(client, AUDIT_EVENTS, { filter: { types: ['RUN_STATUS_CHANGED'], subject: r.runId } }, tenantIdentity(r.tenant));
  const everything = subscribe(client, AUDIT_EVENTS, {}, tenantIdentity(r.tenant));
  const other = subscribe(client, AUDIT_EVENTS, {}, tenantIdentity(newTenant()));
  await listening('audit', base, 3);
  await r.report('QUEUED');
  await r.report('RUNNING');
  await until(() => statusOfRun.results.length >= 2, 'two status events');
  const [first, second] = statusOfRun.results.map((x) => x.data.auditEvents);
  expect(first).toMatchObject({ type: 'RUN_STATUS_CHANGED', subject: r.runId, tenantId: r.tenant });
  expect(first.hash).toMatch(/^[0-9a-f]{64}$/);
  expect(second.prevHash).toBe(first.hash);

  // The same events as the query reads them, after the run's creation event.
  const stored = (await gql(url, bearer(r.token), `{ auditEvents(first: 100) { edges { node { id type hash prevHash } } } }`)).body.data.auditEvents.edges.map((e: any) => e.node);
  const created = stored.find((e: any) => e.type === 'RUN_CREATED');
  const after = stored.slice(stored.indexOf(created) + 1);
  expect(after.map((e: any) => e.id)).toEqual([first.id, second.id]);
  const replay = subscribe(client, AUDIT_EVENTS, { since: created.id }, tenantIdentity(r.tenant));
  await until(() => replay.results.length >= 2, 'the replay');
  expect(replay.results.map((x) => x.data.auditEvents.id)).toEqual([first.id, second.id]);
  // Audit stores events asynchronously: the run's creation may be stored after subscribing, and then it arrives too.
  const seen = everything.results.map((x) => x.data.auditEvents.id);
  expect(seen.slice(-2)).toEqual([first.id, second.id]);
  expect(seen.every((id: string) => stored.some((e: any) => e.id === id))).toBe(true);
  expect(other.results).toEqual([]);

  const foreign = subscribe(client, AUDIT_EVENTS, { since: created.id }, tenantIdentity(newTenant()));
  await until(() => foreign.completed || foreign.error, 'the refusal');
  expect(foreign.results[0].errors[0].extensions.code).toBe('BAD_USER_INPUT');
  const long = subscribe(client, AUDIT_EVENTS, { filter: { subject: 'x'.repeat(201) } }, tenantIdentity(r.tenant));
  await until(() => long.completed || long.error, 'the refusal');
  expect(long.results[0].errors[0].extensions.code).toBe('BAD_USER_INPUT');
  for (const s of [statusOfRun, everything, other, replay]) s.dispose();
});

test('/health counts go back to their baseline once clients unsubscribe or go away', async () => {
  const names: SubgraphName[] = ['flow-runs', 'audit'];
  await sleep(300);
  const baseline = await Promise.all(names.map(health));
  const tenant = newTenant();
  const opened = names.map((name) => {
    const { client } = connect(name);
    const query = name === 'audit' ? AUDIT_EVENTS : RUN_EVENTS;
    return { client, subs: [1, 2, 3].map(() => subscribe(client, query, {}, tenantIdentity(tenant))) };
  });
  for (const [i, name] of names.entries()) {
    await eventually(async () => {
      const h = await health(name);
      return h.subscriptions === baseline[i].subscriptions + 3 && h.sockets === baseline[i].sockets + 1 ? true : undefined;
    }, 10000, `3 subscriptions on ${name}`);
  }
  opened[0].subs.forEach((s) => s.dispose()); // complete messages; graphql-ws closes the idle lazy socket
  await opened[1].client.dispose(); // the socket goes away with its subscriptions
  for (const [i, name] of names.entries()) {
    await eventually(async () => {
      const h = await health(name);
      return h.subscriptions === baseline[i].subscriptions && h.sockets === baseline[i].sockets ? true : undefined;
    }, 10000, `${name} back to its baseline`);
  }
});

test('a subscriber that stops reading is ended with SUBSCRIBER_TOO_SLOW instead of buffering without bound', async () => {
  // Every event carries the run's input 50 times (~1 MB), so the socket's kernel buffers fill after a few events.
  // (A large input itself would be a large Kafka message: the relay's batches must stay under the broker's limit.)
  const r = await tenantWithRun({ blob: 'x'.repeat(20_000) });
  const inputs = Array.from({ length: 50 }, (_, i) => `i${i}: run { input }`).join(' ');
  const base = (await health('flow-runs')).subscriptions;
  const ws = new WebSocket(wsUrl('flow-runs'), 'graphql-transport-ws');
  const messages: any[] = [];
  ws.on('message', (data) => messages.push(JSON.parse(String(data))));
  await new Promise((res) => ws.once('open', res));
  ws.send(JSON.stringify({ type: 'connection_init', payload: { identity: gatewayIdentity() } }));
  await until(() => messages.some((m) => m.type === 'connection_ack'), 'the ack');
  ws.send(JSON.stringify({ id: 's1', type: 'subscribe', payload: {
    query: `subscription($runId: ID) { runStatusChanged(runId: $runId) { eventId ${inputs} } }`, variables: { runId: r.runId },
    extensions: { identity: tenantIdentity(r.tenant) },
  } }));
  await listening('flow-runs', base);
  ws.pause();
  const produced = 4 * 12; // well beyond what the socket buffers hold (a few events) plus BUFFER
  for (let i = 0; i < produced / 4; i++) await r.cycle();
  await sleep(1000); // the last events reach the hub
  ws.resume();
  const end = await until(() => messages.find((m) => m.id === 's1' && (m.type === 'error' || m.type === 'complete')), 'the end of the stream');
  expect(end).toMatchObject({ type: 'error', payload: [expect.objectContaining({ extensions: { code: 'SUBSCRIBER_TOO_SLOW' } })] });
  const delivered = messages.filter((m) => m.type === 'next').length;
  expect(delivered).toBeLessThan(produced);
  await eventually(async () => ((await health('flow-runs')).subscriptions === base ? true : undefined), 10000, 'the subscription released');
  ws.close();
}, 60000);

describe('replayThenLive', () => {
  const ev = (seq: number, tenantId = 't'): LiveEvent<number> => ({ seq: BigInt(seq), key: String(seq), tenantId, value: seq });

  test('pages through the store, holds live events meanwhile, and drops those the replay already gave', async () => {
    const hub = new LiveHub<number>();
    const store = [1, 2, 3, 4, 5].map((n) => ev(n));
    let pages = 0;
    const it = replayThenLive({
      hub, tenantId: 't', matches: () => true, maxBuffered: 10, replayPageSize: 2,
      replay: {
        afterSeq: 1n,
        async page(after, limit) {
          if (pages++ === 0) { // events commit and arrive live while the first page is read
            store.push(ev(6), ev(7));
            for (const n of [5, 6, 7]) hub.publish(ev(n));
            hub.publish(ev(6)); // a redelivery
            hub.publish(ev(99, 'other-tenant'));
          }
          return store.filter((e) => e.seq > after).slice(0, limit);
        },
      },
    });
    const got: number[] = [];
    for (let i = 0; i < 6; i++) got.push((await it.next()).value);
    expect(got).toEqual([2, 3, 4, 5, 6, 7]);
    const pending = it.next();
    hub.publish(ev(8));
    expect(await pending).toEqual({ value: 8, done: false });
    expect(hub.listenerCount).toBe(1);
    await it.return!();
    expect(hub.listenerCount).toBe(0);
  });

  test('return() during a pending next() ends it and detaches; overflow ends with SUBSCRIBER_TOO_SLOW', async () => {
    const hub = new LiveHub<number>();
    const it = replayThenLive({ hub, tenantId: 't', matches: () => true, maxBuffered: 3 });
    const pending = it.next();
    await it.return!();
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(hub.listenerCount).toBe(0);

    const slow = replayThenLive({ hub, tenantId: 't', matches: (e) => e.value % 2 === 0, maxBuffered: 3 });
    for (let n = 10; n < 20; n++) hub.publish(ev(n));
    expect(hub.listenerCount).toBe(0);
    await expect(slow.next()).rejects.toMatchObject({ extensions: { code: 'SUBSCRIBER_TOO_SLOW' } });
    expect(await slow.next()).toEqual({ value: undefined, done: true });
  });
});
