import type { Identity } from '../../../platform/identity';
import type { FlowDefinition, TaskDefinition } from '../flow-definition';

export interface PolicyLimits { maxRetries: number; maxTaskTimeoutSeconds: number; maxTotalTimeoutSeconds: number }
export interface PolicyContext { identity: Identity; flow: { id: string; tenantId: string; name: string }; definition: FlowDefinition; limits: PolicyLimits }
export interface Violation { policy: string; taskId: string | null; limit: number | string | null; actual: number | string | null; message: string }
export interface TaskReport { taskId: string; status: string; output?: unknown; error?: unknown }
export interface Policy {
  name: string;
  /** Whole-flow check, once per evaluation. */
  flow?(ctx: PolicyContext): Violation[];
  /** Per task, before it may be scheduled (evaluated for every task at publish and run time). */
  preTask?(task: TaskDefinition, ctx: PolicyContext): Violation[];
  /** Per task result reported by the orchestrator. */
  postTask?(task: TaskDefinition, report: TaskReport, ctx: PolicyContext): Violation[];
}
