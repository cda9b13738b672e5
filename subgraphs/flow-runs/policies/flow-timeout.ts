import type { FlowDefinition, TaskDefinition } from '../flow-definition';
import type { Policy } from './types';

const NAME = 'flow-timeout';

/** A task's worst case: every attempt runs into its timeout. */
export function worstCaseSeconds(task: TaskDefinition): number {
  return task.timeoutSeconds * (task.retries + 1);
}

/** The longest dependency path by worst-case duration, in run order (dependencies first). */
export function criticalPath(definition: FlowDefinition): { seconds: number; path: string[] } {
  const byId = new Map(definition.tasks.map(t => [t.id, t]));
  const waiting = new Map(definition.tasks.map(t => [t.id, t.dependsOn.filter(d => byId.has(d)).length]));
  const dependents = new Map<string, string[]>();
  for (const t of definition.tasks) {
    for (const d of t.dependsOn) {
      if (!byId.has(d)) continue;
      if (!dependents.has(d)) dependents.set(d, []);
      dependents.get(d)!.push(t.id);
    }
  }

  const finish = new Map<string, { seconds: number; via: string | null }>();
  const ready = definition.tasks.filter(t => waiting.get(t.id) === 0).map(t => t.id);
  for (let k = 0; k < ready.length; k++) {
    const task = byId.get(ready[k])!;
    let via: string | null = null;
    for (const d of task.dependsOn) if (finish.has(d) && (via === null || finish.get(d)!.seconds > finish.get(via)!.seconds)) via = d;
    finish.set(task.id, { seconds: (via === null ? 0 : finish.get(via)!.seconds) + worstCaseSeconds(task), via });
    for (const next of dependents.get(task.id) ?? []) {
      waiting.set(next, waiting.get(next)! - 1);
      if (waiting.get(next) === 0) ready.push(next);
    }
  }
  if (finish.size < byId.size) throw new Error('the definition has a dependency cycle');

  let end: string | null = null;
  for (const [id, f] of finish) if (end === null || f.seconds > finish.get(end)!.seconds) end = id;
  const path: string[] = [];
  for (let id = end; id !== null; id = finish.get(id)!.via) path.push(id);
  return { seconds: end === null ? 0 : finish.get(end)!.seconds, path: path.reverse() };
}

export const flowTimeout: Policy = {
  name: NAME,
  flow({ definition, limits }) {
    const { seconds, path } = criticalPath(definition);
    if (seconds <= limits.maxTotalTimeoutSeconds) return [];
    return [{ policy: NAME, taskId: null, limit: limits.maxTotalTimeoutSeconds, actual: seconds,
      message: `the flow may run ${seconds}s in the worst case (timeout × attempts along ${path.join(' → ')}), at most ${limits.maxTotalTimeoutSeconds}s allowed` }];
  },
};
