import type { GraphQLError } from 'graphql';
import { codedError } from '../../platform/errors';

export interface TaskDefinition { id: string; type: string; dependsOn: string[]; retries: number; timeoutSeconds: number; config: unknown }
export interface FlowDefinition { type: 'DAG'; tasks: TaskDefinition[]; tenantId?: string }
export interface Problem { path: string; message: string }
export interface DefinitionLimits { maxTasks: number; maxBytes: number }

export const DEFAULT_DEFINITION_LIMITS: DefinitionLimits = Object.freeze({ maxTasks: 500, maxBytes: 256 * 1024 });
export const TASK_DEFAULTS: { retries: 0; timeoutSeconds: 600 } = Object.freeze({ retries: 0, timeoutSeconds: 600 });

const TASK_ID = /^[A-Za-z0-9_.-]{1,64}$/;
const MAX_TYPE_LENGTH = 64;
// Sanity bounds only; the task-retries / task-timeout policies enforce the real limits.
const MAX_RETRIES = 1000;
const MAX_TIMEOUT_SECONDS = 30 * 24 * 3600;
const TASK_KEYS = new Set(['id', 'type', 'dependsOn', 'retries', 'timeoutSeconds', 'config']);

type Report = (path: string, message: string) => void;
type JsonObject = Record<string, unknown>;

/**
 * Checks a raw flow definition and reports every problem, each with a path such as `tasks[2].dependsOn[0]`
 * (`''` is the document itself). Optional fields may be absent or null. Cycles are reported once per
 * strongly connected group of tasks, as `cycle: a → b → a` where `a → b` reads "a depends on b".
 */
export function validateDefinition(
  raw: unknown,
  limits: Partial<DefinitionLimits> = {},
): { ok: true; definition: FlowDefinition } | { ok: false; problems: Problem[] } {
  const maxTasks = limits.maxTasks ?? DEFAULT_DEFINITION_LIMITS.maxTasks;
  const maxBytes = limits.maxBytes ?? DEFAULT_DEFINITION_LIMITS.maxBytes;
  const problems: Problem[] = [];
  const report: Report = (path, message) => { problems.push({ path, message }); };

  if (!isObject(raw)) return { ok: false, problems: [{ path: '', message: 'a flow definition must be a JSON object' }] };
  const json = toJson(raw);
  if (!json) report('', 'a flow definition must be plain JSON');
  else if (json.bytes > maxBytes) report('', `the definition is ${json.bytes} bytes of JSON, at most ${maxBytes} allowed`);

  if (raw.type !== 'DAG') report('type', raw.type == null ? 'is required and must be "DAG"' : `must be "DAG", got ${show(raw.type)}`);
  const tenantId = raw.tenantId ?? undefined;
  if (tenantId !== undefined && (typeof tenantId !== 'string' || tenantId === '')) report('tenantId', `must be a non-empty string, got ${show(tenantId)}`);

  const tasks: (TaskDefinition | null)[] = [];
  if (!Array.isArray(raw.tasks)) report('tasks', raw.tasks == null ? 'is required (a non-empty array of tasks)' : 'must be an array of tasks');
  else if (raw.tasks.length === 0) report('tasks', 'must contain at least one task');
  else {
    if (raw.tasks.length > maxTasks) report('tasks', `at most ${maxTasks} tasks allowed, got ${raw.tasks.length}`);
    const firstIndex = firstIndexById(raw.tasks);
    raw.tasks.forEach((task, i) => tasks.push(checkTask(task, i, firstIndex, report)));
    reportCycles(raw.tasks, firstIndex, report);
  }

  if (problems.length > 0) return { ok: false, problems };
  const definition: FlowDefinition = { type: 'DAG', tasks: tasks as TaskDefinition[] };
  if (typeof tenantId === 'string') definition.tenantId = tenantId;
  return { ok: true, definition };
}

export function invalidDefinitionError(problems: Problem[]): GraphQLError {
  const shown = problems.slice(0, 3).map(p => (p.path ? `${p.path}: ${p.message}` : p.message));
  if (problems.length > shown.length) shown.push(`and ${problems.length - shown.length} more`);
  const count = `${problems.length} problem${problems.length === 1 ? '' : 's'}`;
  return codedError('BAD_USER_INPUT', `invalid flow definition, ${count}: ${shown.join('; ')}`, { problems });
}

function checkTask(raw: unknown, i: number, firstIndex: Map<string, number>, report: Report): TaskDefinition | null {
  const at = `tasks[${i}]`;
  if (!isObject(raw)) { report(at, 'a task must be an object'); return null; }
  for (const key of Object.keys(raw)) if (!TASK_KEYS.has(key)) report(keyPath(at, key), `unknown task key ${show(key)}`);

  const { id, type } = raw;
  if (typeof id !== 'string') report(`${at}.id`, id == null ? 'is required' : `must be a string, got ${show(id)}`);
  else if (!TASK_ID.test(id)) report(`${at}.id`, `must be 1 to 64 characters from A-Z a-z 0-9 _ . -, got ${show(id)}`);
  else if (firstIndex.get(id) !== i) report(`${at}.id`, `duplicate task id ${show(id)} (also tasks[${firstIndex.get(id)}])`);
  if (typeof type !== 'string' || type === '' || type.length > MAX_TYPE_LENGTH) {
    report(`${at}.type`, `must be a non-empty string of at most ${MAX_TYPE_LENGTH} characters, got ${show(type)}`);
  }

  const dependsOn = checkDependsOn(raw.dependsOn, at, id, firstIndex, report);
  const retries = checkInteger(raw.retries, `${at}.retries`, 0, MAX_RETRIES, TASK_DEFAULTS.retries, report);
  const timeoutSeconds = checkInteger(raw.timeoutSeconds, `${at}.timeoutSeconds`, 1, MAX_TIMEOUT_SECONDS, TASK_DEFAULTS.timeoutSeconds, report);
  let config: unknown = null;
  if (raw.config !== undefined) {
    const json = toJson(raw.config);
    if (json) config = JSON.parse(json.text);
    else report(`${at}.config`, 'must be plain JSON');
  }
  return { id: id as string, type: type as string, dependsOn, retries, timeoutSeconds, config };
}

function checkDependsOn(value: unknown, at: string, ownId: unknown, known: Map<string, number>, report: Report): string[] {
  if (value == null) return [];
  if (!Array.isArray(value)) { report(`${at}.dependsOn`, `must be an array of task ids, got ${show(value)}`); return []; }
  const seen = new Map<string, number>();
  value.forEach((dep: unknown, j) => {
    const path = `${at}.dependsOn[${j}]`;
    if (typeof dep !== 'string') { report(path, `must be a task id, got ${show(dep)}`); return; }
    if (dep === ownId) report(path, 'a task cannot depend on itself');
    else if (seen.has(dep)) report(path, `repeated dependency ${show(dep)} (also dependsOn[${seen.get(dep)}])`);
    else if (!known.has(dep)) report(path, `depends on unknown task ${show(dep)}`);
    if (!seen.has(dep)) seen.set(dep, j);
  });
  return [...(value as string[])];
}

function checkInteger(value: unknown, path: string, min: number, max: number, fallback: number, report: Report): number {
  if (value == null) return fallback;
  if (typeof value === 'number' && Number.isInteger(value) && value >= min && value <= max) return value;
  report(path, `must be an integer from ${min} to ${max}, got ${show(value)}`);
  return fallback;
}

/** Where each string id first appears; later tasks with the same id are duplicates. */
function firstIndexById(tasks: unknown[]): Map<string, number> {
  const first = new Map<string, number>();
  tasks.forEach((task, i) => {
    if (isObject(task) && typeof task.id === 'string' && !first.has(task.id)) first.set(task.id, i);
  });
  return first;
}

/** One cycle per strongly connected group of two or more tasks, in the order the groups start in the array. */
function reportCycles(tasks: unknown[], firstIndex: Map<string, number>, report: Report): void {
  const graph = dependencyGraph(tasks, firstIndex);
  const groups = stronglyConnected(graph).filter(g => g.length > 1);
  const starts = groups.map(g => g.reduce((a, b) => Math.min(a, b)));
  const order = groups.map((_, k) => k).sort((a, b) => starts[a] - starts[b]);
  for (const k of order) {
    const cycle = shortestCycle(graph, starts[k], new Set(groups[k]));
    const ids = [...cycle, cycle[0]].map(i => (tasks[i] as JsonObject).id as string);
    report('tasks', `cycle: ${ids.join(' → ')}`);
  }
}

/** graph[i] = indices task i depends on; only first occurrences of an id, no self-loops, no unknown targets. */
function dependencyGraph(tasks: unknown[], firstIndex: Map<string, number>): number[][] {
  return tasks.map((task, i) => {
    if (!isObject(task) || firstIndex.get(task.id as string) !== i || !Array.isArray(task.dependsOn)) return [];
    const targets = new Set<number>();
    for (const dep of task.dependsOn as unknown[]) {
      const j = typeof dep === 'string' ? firstIndex.get(dep) : undefined;
      if (j !== undefined && j !== i) targets.add(j);
    }
    return [...targets];
  });
}

/** Tarjan's algorithm, iterative so that long dependency chains cannot overflow the stack. */
function stronglyConnected(graph: number[][]): number[][] {
  const index: number[] = new Array(graph.length).fill(-1);
  const low: number[] = [];
  const onStack: boolean[] = [];
  const stack: number[] = [];
  const groups: number[][] = [];
  let counter = 0;
  for (let root = 0; root < graph.length; root++) {
    if (index[root] !== -1) continue;
    const frames: [node: number, next: number][] = [[root, 0]];
    while (frames.length > 0) {
      const frame = frames[frames.length - 1];
      const v = frame[0];
      if (frame[1] === 0 && index[v] === -1) {
        index[v] = low[v] = counter++;
        stack.push(v);
        onStack[v] = true;
      }
      if (frame[1] < graph[v].length) {
        const w = graph[v][frame[1]++];
        if (index[w] === -1) frames.push([w, 0]);
        else if (onStack[w]) low[v] = Math.min(low[v], index[w]);
        continue;
      }
      frames.pop();
      if (frames.length > 0) {
        const parent = frames[frames.length - 1][0];
        low[parent] = Math.min(low[parent], low[v]);
      }
      if (low[v] === index[v]) {
        const group: number[] = [];
        let w: number;
        do { w = stack.pop()!; onStack[w] = false; group.push(w); } while (w !== v);
        groups.push(group);
      }
    }
  }
  return groups;
}

/** Breadth-first search inside the group, so the reported cycle is a shortest one through `start`. */
function shortestCycle(graph: number[][], start: number, group: Set<number>): number[] {
  const parent = new Map<number, number>();
  const queue = [start];
  for (let k = 0; k < queue.length; k++) {
    const v = queue[k];
    for (const w of graph[v]) {
      if (w === start) {
        const path = [v];
        while (path[path.length - 1] !== start) path.push(parent.get(path[path.length - 1])!);
        return path.reverse();
      }
      if (group.has(w) && !parent.has(w)) { parent.set(w, v); queue.push(w); }
    }
  }
  throw new Error('a strongly connected group always has a cycle through each of its tasks');
}

function isObject(value: unknown): value is JsonObject {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function toJson(value: unknown): { text: string; bytes: number } | null {
  try {
    const text = JSON.stringify(value);
    return text === undefined ? null : { text, bytes: Buffer.byteLength(text) };
  } catch {
    return null; // cycles, BigInt
  }
}

function keyPath(base: string, key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `${base}.${key}` : `${base}[${JSON.stringify(key)}]`;
}

function show(value: unknown): string {
  let text: string | undefined;
  try { text = JSON.stringify(value); } catch { /* not JSON */ }
  text ??= String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}
