/**
 * What the flow-runs subgraph puts on Kafka for an orchestrator, and what it accepts back.
 * Versioned by `schema`; docs/flow-runs.md describes both formats. Never change a shipped version: add v2.
 */
import type { BusMessage } from '../../platform/event-bus';
import { isRunStatus, REPORTABLE, type RunStatus } from './state-machine';

export const RUNS_TOPIC = 'flow_runs';
export const STATUS_TOPIC = 'flow_runs.status';
/** Every committed status change, for the subgraph's own subscriptions (each process reads it with its own group). */
export const STATUS_CHANGED_TOPIC = 'flow_runs.status_changed';

export interface RunRequestedV1 {
  schema: 'flow_runs.run_requested/v1';
  runId: string;
  tenantId: string;
  flowId: string;
  flowVersion: string;
  attempt: number;
  definition: unknown;
  input: unknown;
  correlationId: string;
  requestedBy: string;
  requestedAt: string;
}

export interface RunCancelRequestedV1 {
  schema: 'flow_runs.run_cancel_requested/v1';
  runId: string;
  tenantId: string;
  attempt: number;
  reason: string | null;
  correlationId: string;
  requestedBy: string;
  requestedAt: string;
}

/** Keyed by run id, so every message of one run lands on one partition, in order. */
export function runMessage(value: RunRequestedV1 | RunCancelRequestedV1): BusMessage {
  return { topic: RUNS_TOPIC, key: value.runId, value: JSON.stringify(value) };
}

export interface StatusReport {
  reportId: string;
  runId: string;
  tenantId: string;
  status: RunStatus;
  output?: unknown;
  error?: unknown;
  /** Optional task result, checked by post-task policies. */
  taskId?: string;
  taskOutput?: unknown;
}

/** Parses one `flow_runs.status` message; returns a reason instead when it is not a valid v1 report. */
export function parseStatusReport(value: string): StatusReport | { invalid: string } {
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(value);
  } catch {
    return { invalid: 'not JSON' };
  }
  if (!m || typeof m !== 'object') return { invalid: 'not an object' };
  if (m.schema !== undefined && m.schema !== 'flow_runs.status_report/v1') return { invalid: `unknown schema ${String(m.schema)}` };
  for (const f of ['reportId', 'runId', 'tenantId'] as const) if (typeof m[f] !== 'string' || !m[f]) return { invalid: `${f} missing` };
  if (!isRunStatus(m.status) || !REPORTABLE.includes(m.status)) return { invalid: `status must be one of ${REPORTABLE.join(', ')}` };
  if (m.taskId !== undefined && typeof m.taskId !== 'string') return { invalid: 'taskId must be a string' };
  return {
    reportId: m.reportId as string, runId: m.runId as string, tenantId: m.tenantId as string, status: m.status,
    output: m.output, error: m.error, taskId: m.taskId as string | undefined, taskOutput: m.taskOutput,
  };
}

export interface StatusChangedV1 {
  schema: 'flow_runs.status_changed/v1';
  /** The run_transition id: commit-ordered within a tenant. */
  eventId: string;
  tenantId: string;
  runId: string;
  flowId: string;
  from: RunStatus | null;
  to: RunStatus;
  at: string;
}

/** Keyed by run id, so one run's changes stay in order. */
export function statusChangedMessage(value: Omit<StatusChangedV1, 'schema'>): BusMessage {
  return { topic: STATUS_CHANGED_TOPIC, key: value.runId, value: JSON.stringify({ schema: 'flow_runs.status_changed/v1', ...value }) };
}

export function parseStatusChanged(value: string): StatusChangedV1 | null {
  try {
    const m = JSON.parse(value);
    const ok = m?.schema === 'flow_runs.status_changed/v1' && /^\d+$/.test(m.eventId) && isRunStatus(m.to) && (m.from === null || isRunStatus(m.from))
      && [m.tenantId, m.runId, m.flowId, m.at].every((f) => typeof f === 'string' && f.length > 0);
    return ok ? m : null;
  } catch {
    return null;
  }
}
