import { codedError } from '../../platform/errors';

export const RUN_STATUSES = ['PENDING', 'QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'CANCELLING', 'CANCELLED'] as const;
export type RunStatus = (typeof RUN_STATUSES)[number];

/** Every legal move. A run that is cancelling may still finish first: the orchestrator reports what happened. */
const NEXT: Record<RunStatus, readonly RunStatus[]> = {
  PENDING: ['QUEUED', 'RUNNING', 'FAILED', 'CANCELLING'],
  QUEUED: ['RUNNING', 'FAILED', 'TIMED_OUT', 'CANCELLING'],
  RUNNING: ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'CANCELLING'],
  CANCELLING: ['CANCELLED', 'SUCCEEDED', 'FAILED', 'TIMED_OUT'],
  SUCCEEDED: [],
  FAILED: ['PENDING'], // retryRun
  TIMED_OUT: ['PENDING'], // retryRun
  CANCELLED: [],
};

export const TERMINAL: readonly RunStatus[] = ['SUCCEEDED', 'FAILED', 'TIMED_OUT', 'CANCELLED'];
export const CANCELLABLE: readonly RunStatus[] = ['PENDING', 'QUEUED', 'RUNNING'];
export const RETRYABLE: readonly RunStatus[] = ['FAILED', 'TIMED_OUT'];
/** Statuses an orchestrator may report; PENDING (retry) and CANCELLING (cancel) are the tenant's to request. */
export const REPORTABLE: readonly RunStatus[] = ['QUEUED', 'RUNNING', 'SUCCEEDED', 'FAILED', 'TIMED_OUT', 'CANCELLED'];

export const isRunStatus = (s: unknown): s is RunStatus => typeof s === 'string' && (RUN_STATUSES as readonly string[]).includes(s);

export function illegalTransition(from: string, to: string) {
  const allowed = NEXT[from as RunStatus] ?? [];
  return codedError('ILLEGAL_TRANSITION', `a run cannot go from ${from} to ${to}${allowed.length ? ` (from ${from}: ${allowed.join(', ')})` : ` (${from} is final)`}`, { from, to, allowed });
}

export function assertTransition(from: string, to: RunStatus): void {
  if (!(NEXT[from as RunStatus] ?? []).includes(to)) throw illegalTransition(from, to);
}
