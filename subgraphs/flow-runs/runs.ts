import { randomUUID } from 'node:crypto';
import type { Identity } from '../../platform/identity';
import { codedError } from '../../platform/errors';
import { evaluatePostTask } from './policies';
import { validateDefinition, type FlowDefinition } from './flow-definition';
import { admitDefinition, getFlow, getVersion } from './registry';
import { assertUser, audit, isUuid, notFound, sql, type FlowRunsDeps } from './deps';
import { assertTransition, CANCELLABLE, illegalTransition, RETRYABLE, TERMINAL, type RunStatus } from './state-machine';
import { runMessage, statusChangedMessage, type StatusReport } from './run-messages';
import { cacheCommitted, markTransitionPending, runFromSql, type RunView } from './run-store';

export interface CreateRunInput {
  flowId: string;
  flowVersion?: string | null;
  flowDefinition?: unknown;
  input?: unknown;
  requestId?: string | null;
}

type Sql = ReturnType<typeof sql>;

function requestedMessage(run: RunView, definition: unknown, requestedBy: string) {
  return runMessage({
    schema: 'flow_runs.run_requested/v1', runId: run.id, tenantId: run.tenantId, flowId: run.flowId, flowVersion: run.flowVersion,
    attempt: run.attempts, definition, input: run.input ?? null, correlationId: run.correlationId, requestedBy, requestedAt: new Date().toISOString(),
  });
}

async function findByRequestId(deps: FlowRunsDeps, tenantId: string, requestId: string): Promise<RunView | null> {
  const rows = await deps.db.em().getConnection().execute(`select * from flow_runs.run where tenant_id = ? and request_id = ?`, [tenantId, requestId]);
  return rows[0] ? runFromSql(rows[0]) : null;
}

/**
 * Starts a run of a registered flow (latest or named version), or of a definition given inline, which is
 * validated and policy-checked like a published one. The same (tenant, requestId) always yields the same run.
 */
export async function createRun(deps: FlowRunsDeps, identity: Identity, input: CreateRunInput): Promise<{ run: RunView; created: boolean }> {
  if (identity.kind === 'apikey') assertUser(identity);
  if (input.requestId != null && (input.requestId.length < 1 || input.requestId.length > 200)) throw codedError('BAD_USER_INPUT', 'requestId must be 1-200 characters');
  const inputJson = JSON.stringify(input.input ?? null);
  if (Buffer.byteLength(inputJson) > deps.maxInputBytes) throw codedError('PAYLOAD_TOO_LARGE', `run input exceeds ${deps.maxInputBytes} bytes`);
  if (input.requestId) {
    const existing = await findByRequestId(deps, identity.tenantId, input.requestId);
    if (existing) return { run: existing, created: false };
  }
  const em = deps.db.em();
  const flow = await getFlow(em, identity, input.flowId);
  if (!flow) throw notFound('flow', input.flowId);
  if (flow.deprecatedAt) throw codedError('FLOW_DEPRECATED', `flow ${flow.id} is deprecated`);
  const version = await getVersion(em, flow.id, input.flowVersion);
  if (input.flowVersion && !version) throw notFound(`version "${input.flowVersion}" of flow`, flow.id);
  if (version?.deprecatedAt) throw codedError('FLOW_DEPRECATED', `version "${version.version}" of flow ${flow.id} is deprecated`);
  const overridden = input.flowDefinition !== undefined && input.flowDefinition !== null;
  if (!overridden && !version) throw codedError('FLOW_DEPRECATED', `flow ${flow.id} has no version that is not deprecated`);
  // The registry's definition is re-checked at run time too: policy limits may have tightened since it was published.
  const definition: FlowDefinition = await admitDefinition(deps, identity, flow, overridden ? input.flowDefinition : version!.definition);

  const id = randomUUID();
  const outcome = await em.transactional(async (tx) => {
    const q = sql(tx);
    const rows = await q.raw(`insert into flow_runs.run (id, tenant_id, flow_id, flow_version, definition, definition_overridden, created_by, status,
        input, correlation_id, request_id) values (?, ?, ?, ?, ?::jsonb, ?, ?, 'PENDING', ?::jsonb, ?, ?)
      on conflict (tenant_id, request_id) do nothing returning *`,
      [id, identity.tenantId, flow.id, version?.version ?? 'inline', JSON.stringify(definition), overridden, identity.subject, inputJson, identity.correlationId, input.requestId ?? null]);
    if (rows.length === 0) return null; // a concurrent request with the same requestId won
    const run = runFromSql(rows[0]);
    await recordTransition(q, run, { from: null, to: 'PENDING', actor: identity.subject, reason: 'created' });
    await q.enqueue([
      requestedMessage(run, definition, identity.subject),
      audit(identity, 'RUN_CREATED', run.id, { runId: run.id, flowId: flow.id, flowVersion: run.flowVersion, definitionOverridden: overridden, requestId: run.requestId }),
    ]);
    return run;
  });
  if (!outcome) return { run: (await findByRequestId(deps, identity.tenantId, input.requestId!))!, created: false };
  await cacheCommitted(deps, outcome);
  return { run: outcome, created: true };
}

interface TransitionOptions {
  reason?: string | null;
  reportId?: string | null;
  output?: unknown;
  error?: unknown;
}

interface TransitionRecord {
  from: string | null;
  to: RunStatus;
  actor: string;
  reason?: string | null;
  reportId?: string | null;
}

/**
 * Appends a row to the run's history and announces it on `flow_runs.status_changed`. The tenant's lock, taken before
 * the row gets its id and held until commit, makes transition ids commit-ordered per tenant: what lets a subscription
 * resume from an event id with no gap (platform/live-feed.ts).
 */
async function recordTransition(q: Sql, run: RunView, t: TransitionRecord): Promise<void> {
  await q.raw(`select pg_advisory_xact_lock(hashtext(?))`, [`run-events:${run.tenantId}`]);
  const [row] = await q.raw<{ id: string; at: Date }>(`insert into flow_runs.run_transition (run_id, tenant_id, from_status, to_status, actor, reason, report_id)
    values (?, ?, ?, ?, ?, ?, ?) returning id, at`, [run.id, run.tenantId, t.from, t.to, t.actor, t.reason ?? null, t.reportId ?? null]);
  await q.enqueue([statusChangedMessage({
    eventId: String(row.id), tenantId: run.tenantId, runId: run.id, flowId: run.flowId, from: t.from as RunStatus | null, to: t.to, at: new Date(row.at).toISOString(),
  })]);
}

/** Moves a locked run to `to`, records the history row and audit event; the caller's transaction commits all. */
async function transition(deps: FlowRunsDeps, q: Sql, run: RunView, to: RunStatus, actor: Identity, opts: TransitionOptions = {}): Promise<RunView> {
  assertTransition(run.status, to);
  await markTransitionPending(deps, run);
  const retry = to === 'PENDING';
  const [row] = await q.raw(`update flow_runs.run set status = ?, status_version = status_version + 1, updated_at = now(),
      attempts = attempts + ?, output = ?::jsonb, error = ?::jsonb,
      started_at = case when ? then null when ? = 'RUNNING' then coalesce(started_at, now()) else started_at end,
      finished_at = case when ? then now() else null end
    where id = ? returning *`, [
    to, retry ? 1 : 0,
    retry ? null : JSON.stringify(opts.output ?? run.output ?? null), retry ? null : JSON.stringify(opts.error ?? run.error ?? null),
    retry, to, TERMINAL.includes(to), run.id,
  ]);
  const next = runFromSql(row);
  await recordTransition(q, run, { from: run.status, to, actor: actor.subject, reason: opts.reason ?? null, reportId: opts.reportId ?? null });
  await q.enqueue([audit(actor, 'RUN_STATUS_CHANGED', run.id, { runId: run.id, from: run.status, to, attempt: next.attempts, reportId: opts.reportId ?? null, reason: opts.reason ?? null }, run.correlationId)]);
  return next;
}

async function lockRun(q: Sql, identity: Identity, runId: string): Promise<RunView & { definition: unknown; flowName: string }> {
  if (!isUuid(runId)) throw notFound('run', runId);
  const [row] = await q.raw(`select r.*, f.name as flow_name from flow_runs.run r join flow_runs.flow f on f.id = r.flow_id
    where r.id = ? and r.tenant_id = ? for update of r`, [runId, identity.tenantId]);
  if (!row) throw notFound('run', runId);
  return { ...runFromSql(row), definition: row.definition, flowName: row.flow_name };
}

/** Runs `change` on the locked run in one transaction; caches the committed result or forgets the marker. */
async function changeRun(deps: FlowRunsDeps, identity: Identity, runId: string, change: (q: Sql, run: Awaited<ReturnType<typeof lockRun>>) => Promise<RunView>): Promise<RunView> {
  let touched: RunView | undefined;
  try {
    const next = await deps.db.em().transactional(async (tx) => {
      const q = sql(tx);
      const run = await lockRun(q, identity, runId);
      touched = run;
      return change(q, run);
    });
    if (next.statusVersion !== touched!.statusVersion) await cacheCommitted(deps, next);
    return next;
  } catch (err) {
    if (touched) await deps.cache.delete(runId); // a pending marker of a rolled-back transition
    throw err;
  }
}

export async function cancelRun(deps: FlowRunsDeps, identity: Identity, runId: string, reason?: string | null): Promise<RunView> {
  assertUser(identity);
  return changeRun(deps, identity, runId, async (q, run) => {
    if (run.status === 'CANCELLING' || run.status === 'CANCELLED') return run; // asking twice is fine
    if (!CANCELLABLE.includes(run.status as RunStatus)) throw illegalTransition(run.status, 'CANCELLING');
    const next = await transition(deps, q, run, 'CANCELLING', identity, { reason: reason ?? 'cancelled by tenant' });
    await q.enqueue([
      runMessage({ schema: 'flow_runs.run_cancel_requested/v1', runId: run.id, tenantId: run.tenantId, attempt: run.attempts, reason: reason ?? null,
        correlationId: run.correlationId, requestedBy: identity.subject, requestedAt: new Date().toISOString() }),
      audit(identity, 'RUN_CANCEL_REQUESTED', run.id, { runId: run.id, reason: reason ?? null }, run.correlationId),
    ]);
    return next;
  });
}

export async function retryRun(deps: FlowRunsDeps, identity: Identity, runId: string): Promise<RunView> {
  assertUser(identity);
  return changeRun(deps, identity, runId, async (q, run) => {
    if (!RETRYABLE.includes(run.status as RunStatus)) throw codedError('ILLEGAL_TRANSITION', `only a FAILED or TIMED_OUT run can be retried; this one is ${run.status}`, { from: run.status, to: 'PENDING' });
    const next = await transition(deps, q, run, 'PENDING', identity, { reason: `retry (attempt ${run.attempts + 1})` });
    await q.enqueue([requestedMessage(next, run.definition, identity.subject), audit(identity, 'RUN_RETRIED', run.id, { runId: run.id, attempt: next.attempts }, run.correlationId)]);
    return next;
  });
}

export const ORCHESTRATOR_SCOPE = 'orchestrator';

/**
 * Applies an orchestrator's status report, from the `reportRunStatus` mutation or the `flow_runs.status` topic.
 * Idempotent per (run, reportId): a repeated report changes nothing and gets the first answer again.
 */
export async function applyStatusReport(deps: FlowRunsDeps, identity: Identity, report: Omit<StatusReport, 'tenantId'>): Promise<RunView> {
  if (!identity.scopes.includes(ORCHESTRATOR_SCOPE)) {
    throw codedError('FORBIDDEN', `status reports need the "${ORCHESTRATOR_SCOPE}" scope`);
  }
  if (!report.reportId || report.reportId.length > 200) throw codedError('BAD_USER_INPUT', 'reportId must be 1-200 characters');
  let rejected: { from: string; to: string } | undefined;
  const run = await changeRun(deps, identity, report.runId, async (q, run) => {
    const claimed = await q.raw(`insert into flow_runs.status_report (run_id, report_id, outcome) values (?, ?, 'applied')
      on conflict (run_id, report_id) do nothing returning report_id`, [run.id, report.reportId]);
    if (claimed.length === 0) {
      const [prev] = await q.raw(`select outcome from flow_runs.status_report where run_id = ? and report_id = ?`, [run.id, report.reportId]);
      const m = /^rejected:(\w+):(\w+)$/.exec(prev.outcome);
      if (m) rejected = { from: m[1], to: m[2] };
      return run;
    }
    let to = report.status;
    let error = report.error;
    if (report.taskId !== undefined) {
      const checked = validateDefinition(run.definition);
      const violations = checked.ok
        ? evaluatePostTask({ identity, flow: { id: run.flowId, tenantId: run.tenantId, name: run.flowName }, definition: checked.definition, limits: deps.policyLimits },
          { taskId: report.taskId, status: report.status, output: report.taskOutput })
        : [];
      if (violations.length > 0) {
        to = 'FAILED';
        error = { code: 'POLICY_VIOLATION', violations };
        await q.enqueue([audit(identity, 'POLICY_DENIED', run.id, { runId: run.id, taskId: report.taskId, violations }, run.correlationId)]);
      }
    }
    try {
      assertTransition(run.status, to);
    } catch (err) {
      // Recorded, so a retried report gets the same answer; the run itself is unchanged.
      await q.raw(`update flow_runs.status_report set outcome = ? where run_id = ? and report_id = ?`, [`rejected:${run.status}:${to}`, run.id, report.reportId]);
      rejected = { from: run.status, to };
      return run;
    }
    return transition(deps, q, run, to, identity, { reportId: report.reportId, output: report.output, error, reason: `reported by ${identity.subject}` });
  });
  if (rejected) throw illegalTransition(rejected.from, rejected.to);
  return run;
}
