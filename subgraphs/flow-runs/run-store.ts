import type { EntityManager } from '@mikro-orm/postgresql';
import type { Identity } from '../../platform/identity';
import { checkPageSize, decodeCursor } from '../../platform/pagination';
import { RunRow, RunTransitionRow } from './entities';
import { isUuid, type FlowRunsDeps } from './deps';
import type { RunStatus } from './state-machine';

/** A run as resolvers see it: every column but the (possibly large) definition. */
export type RunView = Omit<RunRow, 'definition'>;

const DATE_FIELDS = ['createdAt', 'updatedAt', 'startedAt', 'finishedAt'] as const;

/** A row from raw SQL (`returning *`) as a RunView. */
export function runFromSql(r: Record<string, any>): RunView {
  return {
    id: r.id, seq: String(r.seq), tenantId: r.tenant_id, flowId: r.flow_id, flowVersion: r.flow_version,
    definitionOverridden: r.definition_overridden, createdBy: r.created_by, status: r.status, statusVersion: r.status_version,
    input: r.input, output: r.output, error: r.error, correlationId: r.correlation_id, requestId: r.request_id,
    attempts: r.attempts, createdAt: r.created_at, updatedAt: r.updated_at, startedAt: r.started_at, finishedAt: r.finished_at,
  } as RunView;
}

function toSnapshot(run: RunView): Record<string, unknown> {
  const { definition: _omit, ...rest } = run as RunView & { definition?: unknown };
  return JSON.parse(JSON.stringify(rest));
}

function fromSnapshot(data: Record<string, any>): RunView {
  const run = { ...data };
  for (const f of DATE_FIELDS) run[f] = data[f] ? new Date(data[f]) : null;
  return run as RunView;
}

/*
 * Cache versions: a committed status_version v is cached as 2v; a transition about to commit v+1 first puts
 * a pending marker (data null) at 2v+1. A reader that read v from the database can then no longer cache it
 * (2v < 2v+1), and a reader that meets the marker reads the database. So once a transition commits, no read
 * returns the old status; the writer replaces the marker with the committed run (2v+2) right after commit.
 */
export const committedVersion = (statusVersion: number) => 2 * statusVersion;

export async function markTransitionPending(deps: FlowRunsDeps, run: RunView): Promise<void> {
  await deps.cache.putIfNewer(run.id, { version: committedVersion(run.statusVersion) + 1, tenantId: run.tenantId, data: null });
}

export async function cacheCommitted(deps: FlowRunsDeps, run: RunView): Promise<void> {
  await deps.cache.putIfNewer(run.id, { version: committedVersion(run.statusVersion), tenantId: run.tenantId, data: toSnapshot(run) });
}

/** `run(id)` and entity references: the status cache first, then the database. Another tenant's run is null. */
export async function getRun(deps: FlowRunsDeps, identity: Identity, id: string): Promise<RunView | null> {
  if (!isUuid(id)) return null;
  const hit = await deps.cache.get(id);
  if (hit && hit.data) return hit.tenantId === identity.tenantId ? fromSnapshot(hit.data as Record<string, any>) : null;
  const row = await deps.db.em().findOne(RunRow, { id, tenantId: identity.tenantId });
  if (!row) return null;
  await cacheCommitted(deps, row);
  return row;
}

/** Reads straight from the database (no cache), e.g. for REST reads that must show the definition. */
export async function getRunDefinition(em: EntityManager, identity: Identity, id: string): Promise<unknown> {
  const row = await em.findOne(RunRow, { id, tenantId: identity.tenantId }, { populate: ['definition'] });
  return row?.definition ?? null;
}

export interface RunFilter {
  status?: RunStatus[] | null;
  flowId?: string | null;
  createdBy?: string | null;
  from?: Date | null;
  to?: Date | null;
}

export type RunOrder = 'CREATED_AT_ASC' | 'CREATED_AT_DESC';

export async function listRuns(em: EntityManager, identity: Identity, filter: RunFilter, first: number, after: string | null | undefined, order: RunOrder): Promise<RunRow[]> {
  checkPageSize(first, 500);
  const where: Record<string, unknown> = { tenantId: identity.tenantId };
  if (filter.status?.length) where.status = { $in: filter.status };
  if (filter.flowId) {
    if (!isUuid(filter.flowId)) return [];
    where.flowId = filter.flowId;
  }
  if (filter.createdBy) where.createdBy = filter.createdBy;
  if (filter.from || filter.to) where.createdAt = { ...(filter.from ? { $gte: filter.from } : {}), ...(filter.to ? { $lt: filter.to } : {}) };
  const desc = order === 'CREATED_AT_DESC';
  if (after) where.seq = { [desc ? '$lt' : '$gt']: decodeCursor('run', after) };
  return em.find(RunRow, where, { orderBy: { seq: desc ? 'desc' : 'asc' }, limit: first + 1 });
}

export async function runHistory(em: EntityManager, runId: string): Promise<RunTransitionRow[]> {
  return em.find(RunTransitionRow, { runId }, { orderBy: { id: 'asc' } });
}
