/**
 * What the flow-runs subgraph puts on Kafka for an orchestrator, and what it accepts back.
 * Versioned by `schema`; docs/flow-runs.md describes both formats. Never change a shipped version: add v2.
 */
import type { BusMessage } from '../../platform/event-bus';
import { isRunStatus, REPORTABLE, type RunStatus } from './state-machine';

export const RUNS_TOPIC = 'flow_runs';
export const STATUS_TOPIC = 'flow_runs.status';

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
