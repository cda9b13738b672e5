import { CREATE_RUN, DAG, REGISTER_FLOW, bearer, bootPlatform, gql, newTenant, registerFlow, tokenFor } from './harness';
import { registerPolicy } from '../subgraphs/flow-runs/policies';
import type { Platform } from '../scripts/platform';
import type { PlatformConfig } from '../platform/config';

let platform: Platform;
let config: PlatformConfig;
let url: string;

beforeAll(async () => { ({ platform, config, url } = await bootPlatform({ flowMaxTotalTimeoutSeconds: 7200 })); }, 120000);
afterAll(async () => { await platform?.stop(); });

const register = (token: string, definition: unknown, name = `f-${Math.random().toString(36).slice(2, 8)}`) =>
  gql(url, bearer(token), REGISTER_FLOW, { input: { name, definition } });

describe('definitions are validated, and every problem is reported', () => {
  test('a cycle is reported with its path', async () => {
    const token = await tokenFor(config, newTenant());
    const r = await register(token, DAG([{ id: 'a', type: 'x', dependsOn: ['c'] }, { id: 'b', type: 'x', dependsOn: ['a'] }, { id: 'c', type: 'x', dependsOn: ['b'] }]));
    expect(r.body.errors[0].extensions.code).toBe('BAD_USER_INPUT');
    expect(r.body.errors[0].extensions.problems).toEqual([{ path: 'tasks', message: expect.stringMatching(/^cycle: a → c → b → a$/) }]);
    expect(r.body.data).toBeNull();
  });

  test('missing dependency, duplicate ids, no tasks, wrong type: all problems at once', async () => {
    const token = await tokenFor(config, newTenant());
    const r = await register(token, { type: 'DAG', tasks: [{ id: 'a', type: 'x', dependsOn: ['ghost'] }, { id: 'a', type: 'x' }, { id: 'b' }] });
    const problems = r.body.errors[0].extensions.problems;
    expect(problems.map((p: any) => p.path)).toEqual(expect.arrayContaining(['tasks[0].dependsOn[0]', 'tasks[1].id', 'tasks[2].type']));
    expect(problems.find((p: any) => p.path === 'tasks[0].dependsOn[0]').message).toMatch(/ghost/);
    expect(problems.find((p: any) => p.path === 'tasks[1].id').message).toMatch(/duplicate/);
    const empty = await register(token, { type: 'DAG', tasks: [] });
    expect(empty.body.errors[0].extensions.problems[0].path).toBe('tasks');
    const wrong = await register(token, { type: 'TREE', tasks: [{ id: 'a', type: 'x' }] });
    expect(wrong.body.errors[0].extensions.problems[0].path).toBe('type');
  });
});

describe('policies', () => {
  const run = (token: string, flowId: string, definition: unknown) => gql(url, bearer(token), CREATE_RUN, { input: { flowId, flowDefinition: definition } });

  test('retries, task timeout and total timeout: each violation listed with policy, task, limit, actual', async () => {
    const token = await tokenFor(config, newTenant());
    const flowId = await registerFlow(url, token);
    const r = await run(token, flowId, DAG([
      { id: 'a', type: 'x', retries: 11 },
      { id: 'b', type: 'x', timeoutSeconds: 7201, dependsOn: ['a'] },
    ]));
    expect(r.body.errors[0].extensions).toMatchObject({ code: 'POLICY_VIOLATION', category: 'FORBIDDEN' });
    const v = r.body.errors[0].extensions.violations;
    expect(v).toEqual(expect.arrayContaining([
      expect.objectContaining({ policy: 'task-retries', taskId: 'a', limit: 10, actual: 11 }),
      expect.objectContaining({ policy: 'task-timeout', taskId: 'b', limit: 7200, actual: 7201 }),
      expect.objectContaining({ policy: 'flow-timeout', taskId: null, limit: 7200 }),
    ]));
    // At the limits it passes (total here: 10 × 600 s ≤ 7200 s would fail, so keep it short).
    const ok = await run(token, flowId, DAG([{ id: 'a', type: 'x', retries: 10, timeoutSeconds: 60 }, { id: 'b', type: 'x', timeoutSeconds: 60, dependsOn: ['a'] }]));
    expect(ok.body.errors).toBeUndefined();
    expect(ok.body.data.createRun.run.status).toBe('PENDING');
  });

  test('tenant isolation: a definition naming another tenant is refused, and the denial is audited', async () => {
    const token = await tokenFor(config, newTenant());
    const flowId = await registerFlow(url, token);
    const r = await run(token, flowId, { ...DAG([{ id: 'a', type: 'x' }]), tenantId: 'someone-else' });
    expect(r.body.errors[0].extensions.violations).toEqual([expect.objectContaining({ policy: 'tenant-isolation', actual: 'someone-else' })]);
    const audit = await gql(url, bearer(token), `query($s: String!) { auditEvents(filter: { subject: $s }) { edges { node { type data } } } }`, { s: flowId });
    await expect(async () => undefined).not.toThrow();
    const poll = async () => (await gql(url, bearer(token), `query($s: String!) { auditEvents(filter: { subject: $s, type: "POLICY_DENIED" }) { edges { node { type data } } } }`, { s: flowId })).body.data.auditEvents.edges;
    let edges = await poll();
    for (let i = 0; i < 50 && edges.length === 0; i++) { await new Promise((res) => setTimeout(res, 200)); edges = await poll(); }
    expect(edges[0].node.data.violations[0].policy).toBe('tenant-isolation');
    expect(audit.status).toBe(200);
  });

  test('a custom policy registered in one place is enforced, and no longer after it is removed', async () => {
    const token = await tokenFor(config, newTenant());
    const flowId = await registerFlow(url, token);
    const unregister = registerPolicy({
      name: 'no-shell-tasks',
      preTask: (task) => (task.type === 'shell' ? [{ policy: 'no-shell-tasks', taskId: task.id, limit: null, actual: task.type, message: 'shell tasks are not allowed' }] : []),
    });
    try {
      const r = await run(token, flowId, DAG([{ id: 'a', type: 'shell' }]));
      expect(r.body.errors[0].extensions.violations).toEqual([expect.objectContaining({ policy: 'no-shell-tasks', taskId: 'a' })]);
    } finally {
      unregister();
    }
    const later = await run(token, flowId, DAG([{ id: 'a', type: 'shell' }]));
    expect(later.body.errors).toBeUndefined();
  });
});

describe('the registry', () => {
  const FLOW = `query($id: ID!, $v: String!) { flow(id: $id) { id name deprecated latestVersion { version definition } version(version: $v) { version deprecated } versions { version } } }`;

  test('register, publish versions, read latest or a named version, deprecate', async () => {
    const token = await tokenFor(config, newTenant());
    const flowId = await registerFlow(url, token, 'pipeline');
    const dup = await register(token, DAG([{ id: 'a', type: 'x' }]), 'pipeline');
    expect(dup.body.errors[0].extensions).toMatchObject({ code: 'CONFLICT', flowId });
    const v2 = await gql(url, bearer(token), `mutation($i: PublishFlowVersionInput!) { publishFlowVersion(input: $i) { version definition } }`,
      { i: { flowId, definition: DAG([{ id: 'only', type: 'llm', retries: 2 }]) } });
    expect(v2.body.data.publishFlowVersion).toEqual({ version: '2', definition: DAG([{ id: 'only', type: 'llm', dependsOn: [], retries: 2, timeoutSeconds: 600, config: null }]) });
    const named = await gql(url, bearer(token), `mutation($i: PublishFlowVersionInput!) { publishFlowVersion(input: $i) { version } }`, { i: { flowId, version: '2', definition: DAG([{ id: 'x', type: 'y' }]) } });
    expect(named.body.errors[0].extensions.code).toBe('CONFLICT');
    let f = await gql(url, bearer(token), FLOW, { id: flowId, v: '1' });
    expect(f.body.data.flow).toMatchObject({ name: 'pipeline', deprecated: false, latestVersion: { version: '2' }, version: { version: '1', deprecated: false }, versions: [{ version: '1' }, { version: '2' }] });

    await gql(url, bearer(token), `mutation($id: ID!) { deprecateFlow(flowId: $id, version: "2") { id } }`, { id: flowId });
    f = await gql(url, bearer(token), FLOW, { id: flowId, v: '2' });
    expect(f.body.data.flow).toMatchObject({ latestVersion: { version: '1' }, version: { version: '2', deprecated: true } });
    const onDeprecated = await gql(url, bearer(token), CREATE_RUN, { input: { flowId, flowVersion: '2' } });
    expect(onDeprecated.body.errors[0].extensions.code).toBe('FLOW_DEPRECATED');
    const onLatest = await gql(url, bearer(token), CREATE_RUN, { input: { flowId } });
    expect(onLatest.body.data.createRun.run.flowVersion).toBe('1');

    await gql(url, bearer(token), `mutation($id: ID!) { deprecateFlow(flowId: $id) { id } }`, { id: flowId });
    const listed = await gql(url, bearer(token), `{ flows { edges { node { id } } } all: flows(filter: { includeDeprecated: true }) { edges { node { id deprecated } } } }`);
    expect(listed.body.data.flows.edges).toEqual([]);
    expect(listed.body.data.all.edges).toEqual([{ node: { id: flowId, deprecated: true } }]);
  });

  test('search, pagination, and tenants never see each other\'s flows', async () => {
    const a = await tokenFor(config, newTenant());
    const b = await tokenFor(config, newTenant());
    for (const name of ['ingest-orders', 'ingest-users', 'report']) await registerFlow(url, a, name);
    const p1 = await gql(url, bearer(a), `{ flows(first: 2) { edges { node { name } } pageInfo { hasNextPage endCursor } } }`);
    expect(p1.body.data.flows.edges.map((e: any) => e.node.name)).toEqual(['ingest-orders', 'ingest-users']);
    const p2 = await gql(url, bearer(a), `query($after: String) { flows(first: 2, after: $after) { edges { node { name } } pageInfo { hasNextPage } } }`, { after: p1.body.data.flows.pageInfo.endCursor });
    expect(p2.body.data.flows).toEqual({ edges: [{ node: { name: 'report' } }], pageInfo: { hasNextPage: false } });
    const search = await gql(url, bearer(a), `{ flows(filter: { search: "ingest" }) { edges { node { name } } } }`);
    expect(search.body.data.flows.edges).toHaveLength(2);
    const id = p1.body.data.flows.edges.length && (await gql(url, bearer(a), `{ flows(first: 1) { edges { node { id } } } }`)).body.data.flows.edges[0].node.id;
    expect((await gql(url, bearer(b), `{ flows { edges { node { id } } } }`)).body.data.flows.edges).toEqual([]);
    expect((await gql(url, bearer(b), `query($id: ID!) { flow(id: $id) { id } }`, { id })).body.data.flow).toBeNull();
    const runOther = await gql(url, bearer(b), CREATE_RUN, { input: { flowId: id } });
    expect(runOther.body.errors[0].extensions.code).toBe('NOT_FOUND');
  });

  test('an API key may read but not change flows', async () => {
    const tenant = newTenant();
    const { key } = await platform.gateway.keys.create(tenant, 'edge');
    const r = await gql(url, { 'x-api-key': key }, REGISTER_FLOW, { input: { name: 'nope', definition: DAG([{ id: 'a', type: 'x' }]) } });
    expect(r.body.errors[0].extensions.code).toBe('FORBIDDEN');
    expect((await gql(url, { 'x-api-key': key }, `{ flows { edges { node { id } } } }`)).body.data.flows.edges).toEqual([]);
  });
});
