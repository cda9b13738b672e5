import type { Identity } from '../platform/identity';
import {
  DEFAULT_DEFINITION_LIMITS, TASK_DEFAULTS, invalidDefinitionError, validateDefinition,
  type FlowDefinition, type Problem,
} from '../subgraphs/flow-runs/flow-definition';
import {
  BUILT_IN_POLICIES, DEFAULT_POLICY_LIMITS, evaluatePolicies, evaluatePostTask, policyViolationError,
  registerPolicy, registeredPolicies, type Policy, type PolicyContext, type PolicyLimits, type Violation,
} from '../subgraphs/flow-runs/policies';

const identity: Identity = { tenantId: 'acme', subject: 'alice', kind: 'user', scopes: [], correlationId: 'c-1' };

function problemsOf(raw: unknown, limits?: Parameters<typeof validateDefinition>[1]): Problem[] {
  const result = validateDefinition(raw, limits);
  if (result.ok) throw new Error('expected the definition to be rejected');
  return result.problems;
}

function define(tasks: unknown[], extra: Record<string, unknown> = {}): FlowDefinition {
  const result = validateDefinition({ type: 'DAG', tasks, ...extra });
  if (!result.ok) throw new Error(JSON.stringify(result.problems));
  return result.definition;
}

function context(definition: FlowDefinition, overrides: { tenantId?: string; limits?: Partial<PolicyLimits> } = {}): PolicyContext {
  return {
    identity,
    flow: { id: 'f-1', tenantId: overrides.tenantId ?? 'acme', name: 'nightly' },
    definition,
    limits: { ...DEFAULT_POLICY_LIMITS, ...overrides.limits },
  };
}

const chain = (...ids: string[]) => ids.map((id, i) => ({ id, type: 'noop', dependsOn: i === 0 ? [] : [ids[i - 1]] }));

describe('validateDefinition', () => {
  test('a valid DAG comes back normalized, defaults filled and nothing extra', () => {
    const result = validateDefinition({
      type: 'DAG',
      comment: 'dropped',
      tasks: [
        { id: 'extract', type: 'http' },
        { id: 'load', type: 'sql', dependsOn: ['extract'], retries: 3, timeoutSeconds: 30, config: { table: 'x' } },
      ],
    });
    expect(result).toStrictEqual({
      ok: true,
      definition: {
        type: 'DAG',
        tasks: [
          { id: 'extract', type: 'http', dependsOn: [], retries: 0, timeoutSeconds: 600, config: null },
          { id: 'load', type: 'sql', dependsOn: ['extract'], retries: 3, timeoutSeconds: 30, config: { table: 'x' } },
        ],
      },
    });
    expect(TASK_DEFAULTS).toEqual({ retries: 0, timeoutSeconds: 600 });
    expect(DEFAULT_DEFINITION_LIMITS).toEqual({ maxTasks: 500, maxBytes: 256 * 1024 });
  });

  test('keeps the optional tenantId and treats null optional fields as absent', () => {
    const definition = define([{ id: 'a', type: 't', dependsOn: null, retries: null, timeoutSeconds: null, config: null }], { tenantId: 'acme' });
    expect(definition).toStrictEqual({
      type: 'DAG', tenantId: 'acme',
      tasks: [{ id: 'a', type: 't', dependsOn: [], retries: 0, timeoutSeconds: 600, config: null }],
    });
  });

  test('a cycle of three is reported once, in dependency order, from the first task in the array', () => {
    const tasks = [
      { id: 'a', type: 't', dependsOn: ['b'] },
      { id: 'b', type: 't', dependsOn: ['c'] },
      { id: 'c', type: 't', dependsOn: ['a'] },
    ];
    expect(problemsOf({ type: 'DAG', tasks })).toEqual([{ path: 'tasks', message: 'cycle: a → b → c → a' }]);
    expect(problemsOf({ type: 'DAG', tasks: [tasks[2], tasks[0], tasks[1]] })).toEqual([{ path: 'tasks', message: 'cycle: c → a → b → c' }]);
  });

  test('two separate cycles are both reported, and a tangle of overlapping cycles once', () => {
    expect(problemsOf({
      type: 'DAG',
      tasks: [
        { id: 'ok', type: 't' },
        { id: 'x', type: 't', dependsOn: ['y', 'ok'] },
        { id: 'p', type: 't', dependsOn: ['q'] },
        { id: 'y', type: 't', dependsOn: ['x'] },
        { id: 'q', type: 't', dependsOn: ['r'] },
        { id: 'r', type: 't', dependsOn: ['p'] },
      ],
    })).toEqual([
      { path: 'tasks', message: 'cycle: x → y → x' },
      { path: 'tasks', message: 'cycle: p → q → r → p' },
    ]);
    expect(problemsOf({
      type: 'DAG',
      tasks: [{ id: 'a', type: 't', dependsOn: ['b', 'c'] }, { id: 'b', type: 't', dependsOn: ['a'] }, { id: 'c', type: 't', dependsOn: ['a'] }],
    })).toEqual([{ path: 'tasks', message: 'cycle: a → b → a' }]);
  });

  test('a dependency on a task that does not exist', () => {
    expect(problemsOf({ type: 'DAG', tasks: [{ id: 'a', type: 't' }, { id: 'b', type: 't', dependsOn: ['a', 'ghost'] }] }))
      .toEqual([{ path: 'tasks[1].dependsOn[1]', message: 'depends on unknown task "ghost"' }]);
  });

  test('duplicate task ids are reported at each duplicate', () => {
    expect(problemsOf({ type: 'DAG', tasks: [{ id: 'a', type: 't' }, { id: 'b', type: 't' }, { id: 'a', type: 't' }, { id: 'a', type: 't' }] }))
      .toEqual([
        { path: 'tasks[2].id', message: 'duplicate task id "a" (also tasks[0])' },
        { path: 'tasks[3].id', message: 'duplicate task id "a" (also tasks[0])' },
      ]);
  });

  test('a self-dependency and a repeated dependency, without a cycle report', () => {
    expect(problemsOf({ type: 'DAG', tasks: [{ id: 'a', type: 't', dependsOn: ['a'] }, { id: 'b', type: 't', dependsOn: ['a', 'a'] }] }))
      .toEqual([
        { path: 'tasks[0].dependsOn[0]', message: 'a task cannot depend on itself' },
        { path: 'tasks[1].dependsOn[1]', message: 'repeated dependency "a" (also dependsOn[0])' },
      ]);
  });

  test('reports every problem at once, each with its path', () => {
    const problems = problemsOf({
      type: 'dag',
      tenantId: 7,
      tasks: [
        { id: 'bad id', type: '', retries: -1, timeoutSeconds: 0, colour: 'red', dependsOn: [1, 'nope'] },
        'not a task',
        { type: 'x'.repeat(65), retries: 1.5, timeoutSeconds: 30 * 24 * 3600 + 1, dependsOn: 'a', 'odd key': 1 },
        { id: 'ok', type: 't', retries: 1000, timeoutSeconds: 30 * 24 * 3600, config: [1, { deep: true }] },
      ],
    });
    expect(problems.map(p => p.path)).toEqual([
      'type',
      'tenantId',
      'tasks[0].colour',
      'tasks[0].id',
      'tasks[0].type',
      'tasks[0].dependsOn[0]',
      'tasks[0].dependsOn[1]',
      'tasks[0].retries',
      'tasks[0].timeoutSeconds',
      'tasks[1]',
      'tasks[2]["odd key"]',
      'tasks[2].id',
      'tasks[2].type',
      'tasks[2].dependsOn',
      'tasks[2].retries',
      'tasks[2].timeoutSeconds',
    ]);
    expect(problems).toContainEqual({ path: 'type', message: 'must be "DAG", got "dag"' });
    expect(problems).toContainEqual({ path: 'tasks[0].colour', message: 'unknown task key "colour"' });
    expect(problems).toContainEqual({ path: 'tasks[0].dependsOn[1]', message: 'depends on unknown task "nope"' });
    expect(problems).toContainEqual({ path: 'tasks[0].retries', message: 'must be an integer from 0 to 1000, got -1' });
    expect(problems).toContainEqual({ path: 'tasks[2].timeoutSeconds', message: 'must be an integer from 1 to 2592000, got 2592001' });
    expect(problems).toContainEqual({ path: 'tasks[2].id', message: 'is required' });
  });

  test('tasks must be a non-empty array', () => {
    expect(problemsOf({ type: 'DAG', tasks: [] })).toEqual([{ path: 'tasks', message: 'must contain at least one task' }]);
    expect(problemsOf({ type: 'DAG' })).toEqual([{ path: 'tasks', message: 'is required (a non-empty array of tasks)' }]);
    expect(problemsOf({ type: 'DAG', tasks: {} })).toEqual([{ path: 'tasks', message: 'must be an array of tasks' }]);
  });

  test('the document must be an object of type "DAG"', () => {
    for (const raw of [null, [], 'DAG', 42]) expect(problemsOf(raw)).toEqual([{ path: '', message: 'a flow definition must be a JSON object' }]);
    expect(problemsOf({ type: 'TREE', tasks: [{ id: 'a', type: 't' }] })).toEqual([{ path: 'type', message: 'must be "DAG", got "TREE"' }]);
    expect(problemsOf({ tasks: [{ id: 'a', type: 't' }] })).toEqual([{ path: 'type', message: 'is required and must be "DAG"' }]);
  });

  test('at most maxTasks tasks and maxBytes of JSON', () => {
    const many = Array.from({ length: 501 }, (_, i) => ({ id: `t${i}`, type: 't' }));
    expect(problemsOf({ type: 'DAG', tasks: many })).toEqual([{ path: 'tasks', message: 'at most 500 tasks allowed, got 501' }]);
    expect(validateDefinition({ type: 'DAG', tasks: many.slice(0, 500) }).ok).toBe(true);
    expect(problemsOf({ type: 'DAG', tasks: many.slice(0, 3) }, { maxTasks: 2 })).toEqual([{ path: 'tasks', message: 'at most 2 tasks allowed, got 3' }]);

    const big = { type: 'DAG', tasks: [{ id: 'a', type: 't', config: 'x'.repeat(256 * 1024) }] };
    const bytes = Buffer.byteLength(JSON.stringify(big));
    expect(problemsOf(big)).toEqual([{ path: '', message: `the definition is ${bytes} bytes of JSON, at most 262144 allowed` }]);
    expect(validateDefinition(big, { maxBytes: bytes }).ok).toBe(true);
    expect(problemsOf(big, { maxBytes: bytes - 1 })).toHaveLength(1);
  });
});

describe('built-in policies', () => {
  const only = (policy: string, ctx: PolicyContext) => evaluatePolicies(ctx).filter(v => v.policy === policy);

  test('are registered in one place with the documented default limits', () => {
    expect(BUILT_IN_POLICIES.map(p => p.name)).toEqual(['tenant-isolation', 'task-retries', 'task-timeout', 'flow-timeout', 'task-output-size']);
    expect(registeredPolicies()).toEqual(BUILT_IN_POLICIES);
    expect(DEFAULT_POLICY_LIMITS).toEqual({ maxRetries: 10, maxTaskTimeoutSeconds: 7200, maxTotalTimeoutSeconds: 86400 });
  });

  test('task-retries: 10 passes, 11 fails', () => {
    expect(evaluatePolicies(context(define([{ id: 'a', type: 't', retries: 10 }])))).toEqual([]);
    expect(evaluatePolicies(context(define([{ id: 'a', type: 't', retries: 11 }])))).toEqual([{
      policy: 'task-retries', taskId: 'a', limit: 10, actual: 11, message: 'task "a" asks for 11 retries, at most 10 allowed',
    }]);
  });

  test('task-timeout: 7200s passes, 7201s fails', () => {
    expect(evaluatePolicies(context(define([{ id: 'a', type: 't', timeoutSeconds: 7200 }])))).toEqual([]);
    expect(evaluatePolicies(context(define([{ id: 'a', type: 't', timeoutSeconds: 7201 }])))).toEqual([{
      policy: 'task-timeout', taskId: 'a', limit: 7200, actual: 7201, message: 'task "a" has a timeout of 7201s, at most 7200s allowed',
    }]);
  });

  test('flow-timeout: a worst case of exactly 86400s passes, 86401s fails and names the path', () => {
    const a = { id: 'a', type: 't', timeoutSeconds: 7200, retries: 10 }; // 79200s
    const b = { id: 'b', type: 't', timeoutSeconds: 3600, retries: 1, dependsOn: ['a'] }; // 7200s
    const c = { id: 'c', type: 't', timeoutSeconds: 1, dependsOn: ['b'] }; // 1s
    expect(evaluatePolicies(context(define([a, b])))).toEqual([]);
    expect(evaluatePolicies(context(define([a, b, c])))).toEqual([{
      policy: 'flow-timeout', taskId: null, limit: 86400, actual: 86401,
      message: 'the flow may run 86401s in the worst case (timeout × attempts along a → b → c), at most 86400s allowed',
    }]);
  });

  test('flow-timeout follows the longest path, not the sum of parallel branches', () => {
    const definition = define([
      { id: 'start', type: 't', timeoutSeconds: 10 },
      { id: 'x1', type: 't', timeoutSeconds: 30, dependsOn: ['start'] },
      { id: 'y', type: 't', timeoutSeconds: 25, retries: 1, dependsOn: ['start'] }, // 50s
      { id: 'x2', type: 't', timeoutSeconds: 30, dependsOn: ['x1'] },
      { id: 'end', type: 't', timeoutSeconds: 10, dependsOn: ['y', 'x2'] },
    ]); // all tasks: 160s; start → x1 → x2 → end: 80s; start → y → end: 70s
    expect(only('flow-timeout', context(definition, { limits: { maxTotalTimeoutSeconds: 80 } }))).toEqual([]);
    expect(only('flow-timeout', context(definition, { limits: { maxTotalTimeoutSeconds: 79 } }))).toEqual([{
      policy: 'flow-timeout', taskId: null, limit: 79, actual: 80,
      message: 'the flow may run 80s in the worst case (timeout × attempts along start → x1 → x2 → end), at most 79s allowed',
    }]);
  });

  test('tenant-isolation: the flow and the definition must belong to the caller\'s tenant', () => {
    expect(evaluatePolicies(context(define([{ id: 'a', type: 't' }], { tenantId: 'acme' })))).toEqual([]);
    expect(evaluatePolicies(context(define([{ id: 'a', type: 't' }]), { tenantId: 'globex' }))).toEqual([{
      policy: 'tenant-isolation', taskId: null, limit: 'acme', actual: 'globex',
      message: 'flow "f-1" belongs to tenant "globex", not to the caller\'s tenant "acme"',
    }]);
    expect(evaluatePolicies(context(define([{ id: 'a', type: 't' }], { tenantId: 'globex' })))).toEqual([{
      policy: 'tenant-isolation', taskId: null, limit: 'acme', actual: 'globex',
      message: 'the definition names tenant "globex", not the caller\'s tenant "acme"',
    }]);
  });

  test('every violation of every task is collected', () => {
    const definition = define([{ id: 'a', type: 't', retries: 11 }, { id: 'b', type: 't', retries: 12, timeoutSeconds: 7201 }]);
    expect(evaluatePolicies(context(definition, { tenantId: 'globex' })).map(v => [v.policy, v.taskId]))
      .toEqual([['tenant-isolation', null], ['task-retries', 'a'], ['task-retries', 'b'], ['task-timeout', 'b'], ['flow-timeout', null]]);
  });

  test('task-output-size: exactly 1 MiB of JSON passes, one byte more fails; unknown task ids are flagged', () => {
    const ctx = context(define([{ id: 'a', type: 't' }]));
    const output = (bytes: number) => 'x'.repeat(bytes - 2); // JSON adds the two quotes
    expect(evaluatePostTask(ctx, { taskId: 'a', status: 'SUCCEEDED', output: output(1024 * 1024) })).toEqual([]);
    expect(evaluatePostTask(ctx, { taskId: 'a', status: 'SUCCEEDED', output: output(1024 * 1024 + 1) })).toEqual([{
      policy: 'task-output-size', taskId: 'a', limit: 1048576, actual: 1048577,
      message: 'task "a" reported 1048577 bytes of output, at most 1048576 allowed',
    }]);
    expect(evaluatePostTask(ctx, { taskId: 'a', status: 'FAILED' })).toEqual([]);
    expect(evaluatePostTask(ctx, { taskId: 'zzz', status: 'SUCCEEDED' })).toEqual([{
      policy: 'known-task', taskId: 'zzz', limit: null, actual: 'zzz',
      message: 'a result was reported for task "zzz", which the flow does not define',
    }]);
  });
});

describe('custom policies', () => {
  const noShell: Policy = {
    name: 'no-shell',
    preTask: task => (task.type === 'shell'
      ? [{ policy: 'no-shell', taskId: task.id, limit: null, actual: task.type, message: `task "${task.id}" may not run shell` }]
      : []),
  };

  test('a registered policy is evaluated until it is unregistered', () => {
    const ctx = context(define([{ id: 'a', type: 'http' }, { id: 'b', type: 'shell' }]));
    expect(evaluatePolicies(ctx)).toEqual([]);
    const unregister = registerPolicy(noShell);
    try {
      expect(registeredPolicies().map(p => p.name)).toContain('no-shell');
      expect(evaluatePolicies(ctx)).toEqual([{ policy: 'no-shell', taskId: 'b', limit: null, actual: 'shell', message: 'task "b" may not run shell' }]);
      expect(() => registerPolicy({ ...noShell })).toThrow('a policy named "no-shell" is already registered');
    } finally {
      unregister();
    }
    expect(evaluatePolicies(ctx)).toEqual([]);
    expect(registeredPolicies()).toEqual(BUILT_IN_POLICIES);
    unregister(); // a second call is harmless
  });

  test('built-in names and the reserved "known-task" cannot be taken', () => {
    expect(() => registerPolicy({ name: 'task-retries' })).toThrow(/already registered/);
    expect(() => registerPolicy({ name: 'known-task' })).toThrow(/already registered/);
  });

  test('a policy that throws becomes a violation and the others still run', () => {
    const exploding: Policy = {
      name: 'exploding',
      flow: () => { throw new Error('boom'); },
      preTask: task => { throw new Error(`no ${task.id}`); },
      postTask: () => { throw 'plain string'; },
    };
    const ctx = context(define([{ id: 'a', type: 't', retries: 11 }]));
    expect(evaluatePolicies(ctx, [exploding, ...BUILT_IN_POLICIES])).toEqual([
      { policy: 'exploding', taskId: null, limit: null, actual: null, message: 'policy failed: boom' },
      { policy: 'exploding', taskId: 'a', limit: null, actual: null, message: 'policy failed: no a' },
      expect.objectContaining({ policy: 'task-retries', taskId: 'a' }),
    ]);
    expect(evaluatePostTask(ctx, { taskId: 'a', status: 'SUCCEEDED' }, [exploding])).toEqual([
      { policy: 'exploding', taskId: 'a', limit: null, actual: null, message: 'policy failed: plain string' },
    ]);
  });
});

describe('GraphQL errors', () => {
  test('policyViolationError carries every violation and summarizes the first few', () => {
    const violations: Violation[] = ['one', 'two', 'three', 'four'].map(m => ({ policy: 'p', taskId: null, limit: 1, actual: 2, message: m }));
    const error = policyViolationError(violations);
    expect(error.message).toBe('4 policy violations: one; two; three; and 1 more');
    expect(error.extensions).toEqual({ code: 'POLICY_VIOLATION', category: 'FORBIDDEN', violations });
    expect(policyViolationError(violations.slice(0, 1)).message).toBe('1 policy violation: one');
  });

  test('invalidDefinitionError carries every problem and names the count', () => {
    const problems = problemsOf({ type: 'x', tasks: [] });
    const error = invalidDefinitionError(problems);
    expect(error.message).toBe('invalid flow definition, 2 problems: type: must be "DAG", got "x"; tasks: must contain at least one task');
    expect(error.extensions).toEqual({ code: 'BAD_USER_INPUT', problems });
  });
});
