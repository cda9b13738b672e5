import type { GraphQLError } from 'graphql';
import { codedError } from '../../../platform/errors';
import { flowTimeout } from './flow-timeout';
import { taskOutputSize } from './task-output-size';
import { taskRetries } from './task-retries';
import { taskTimeout } from './task-timeout';
import { tenantIsolation } from './tenant-isolation';
import type { Policy, PolicyContext, PolicyLimits, TaskReport, Violation } from './types';

export type { Policy, PolicyContext, PolicyLimits, TaskReport, Violation } from './types';

export const BUILT_IN_POLICIES: Policy[] = [tenantIsolation, taskRetries, taskTimeout, flowTimeout, taskOutputSize];

export const DEFAULT_POLICY_LIMITS: PolicyLimits = Object.freeze({ maxRetries: 10, maxTaskTimeoutSeconds: 7200, maxTotalTimeoutSeconds: 86400 });

/** The name evaluatePostTask reports an unknown task id under; no policy may take it. */
const KNOWN_TASK = 'known-task';
const customPolicies: Policy[] = [];

/** Adds a policy to every later evaluation; the returned function removes it again. */
export function registerPolicy(policy: Policy): () => void {
  if (policy.name === KNOWN_TASK || registeredPolicies().some(p => p.name === policy.name)) {
    throw new Error(`a policy named "${policy.name}" is already registered`);
  }
  customPolicies.push(policy);
  return () => {
    const i = customPolicies.indexOf(policy);
    if (i >= 0) customPolicies.splice(i, 1);
  };
}

export function registeredPolicies(): Policy[] {
  return [...BUILT_IN_POLICIES, ...customPolicies];
}

/** Every flow hook once and every preTask hook on every task; all violations, in policy order. */
export function evaluatePolicies(ctx: PolicyContext, policies: readonly Policy[] = registeredPolicies()): Violation[] {
  return policies.flatMap(policy => [
    ...(policy.flow ? guarded(policy, null, () => policy.flow?.(ctx)) : []),
    ...(policy.preTask ? ctx.definition.tasks.flatMap(task => guarded(policy, task.id, () => policy.preTask?.(task, ctx))) : []),
  ]);
}

export function evaluatePostTask(ctx: PolicyContext, report: TaskReport, policies: readonly Policy[] = registeredPolicies()): Violation[] {
  const task = ctx.definition.tasks.find(t => t.id === report.taskId);
  if (!task) {
    return [{ policy: KNOWN_TASK, taskId: report.taskId, limit: null, actual: report.taskId,
      message: `a result was reported for task "${report.taskId}", which the flow does not define` }];
  }
  return policies.flatMap(policy => (policy.postTask ? guarded(policy, task.id, () => policy.postTask?.(task, report, ctx)) : []));
}

export function policyViolationError(violations: Violation[]): GraphQLError {
  const shown = violations.slice(0, 3).map(v => v.message);
  if (violations.length > shown.length) shown.push(`and ${violations.length - shown.length} more`);
  const count = `${violations.length} policy violation${violations.length === 1 ? '' : 's'}`;
  return codedError('POLICY_VIOLATION', `${count}: ${shown.join('; ')}`, { category: 'FORBIDDEN', violations });
}

/** A failing policy must not take the evaluation down with it, nor let the flow pass silently. */
function guarded(policy: Policy, taskId: string | null, hook: () => Violation[] | undefined): Violation[] {
  try {
    return hook() ?? [];
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    return [{ policy: policy.name, taskId, limit: null, actual: null, message: `policy failed: ${reason}` }];
  }
}
