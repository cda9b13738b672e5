import type { BusMessage } from '../../platform/event-bus';
import type { Identity } from '../../platform/identity';
import { codedError } from '../../platform/errors';
import { replayThenLive, type LiveEvent } from '../../platform/live-feed';
import { isUuid, type FlowRunsDeps } from './deps';
import { parseStatusChanged } from './run-messages';
import { RUN_STATUSES, type RunStatus } from './state-machine';

/** What `runStatusChanged` streams (the resolver adds `run`). */
export interface RunStatusEvent {
  eventId: string;
  runId: string;
  flowId: string;
  previousStatus: RunStatus | null;
  status: RunStatus;
  at: Date;
}

export interface RunStatusStreamArgs {
  runId?: string | null;
  flowId?: string | null;
  statuses?: RunStatus[] | null;
  /** The eventId of the last event the client saw. */
  since?: string | null;
}

/** A `flow_runs.status_changed` message as a live event (null when malformed). */
export function liveRunStatusEvent(msg: BusMessage): LiveEvent<RunStatusEvent> | null {
  const m = parseStatusChanged(msg.value);
  if (!m) return null;
  return {
    seq: BigInt(m.eventId), key: m.eventId, tenantId: m.tenantId,
    value: { eventId: m.eventId, runId: m.runId, flowId: m.flowId, previousStatus: m.from, status: m.to, at: new Date(m.at) },
  };
}

function checkArgs(args: RunStatusStreamArgs): void {
  if (args.runId != null && !isUuid(args.runId)) throw codedError('BAD_USER_INPUT', 'runId must be a run id (UUID)');
  if (args.flowId != null && !isUuid(args.flowId)) throw codedError('BAD_USER_INPUT', 'flowId must be a flow id (UUID)');
  if (args.statuses && args.statuses.length > RUN_STATUSES.length) throw codedError('BAD_USER_INPUT', `statuses: at most ${RUN_STATUSES.length} values`);
  if (args.since != null && !/^[0-9]{1,18}$/.test(args.since)) throw codedError('BAD_USER_INPUT', 'since must be the eventId of an earlier RunStatusEvent');
}

/** Throws BAD_USER_INPUT unless `since` is an event of the caller's tenant. */
async function checkSince(deps: FlowRunsDeps, identity: Identity, since: string): Promise<bigint> {
  const { rows } = await deps.db.em().getKnex().raw(`select 1 from flow_runs.run_transition where id = ? and tenant_id = ?`, [since, identity.tenantId]);
  if (rows.length === 0) throw codedError('BAD_USER_INPUT', `since: no event ${since} of this tenant`);
  return BigInt(since);
}

/** The tenant's latest event id: a subscription without `since` starts after it. */
async function latestSeq(deps: FlowRunsDeps, identity: Identity): Promise<bigint> {
  const { rows } = await deps.db.em().getKnex().raw(`select coalesce(max(id), 0) as id from flow_runs.run_transition where tenant_id = ?`, [identity.tenantId]);
  return BigInt(rows[0].id);
}

async function storedEvents(deps: FlowRunsDeps, identity: Identity, args: RunStatusStreamArgs, afterSeq: bigint, limit: number): Promise<LiveEvent<RunStatusEvent>[]> {
  const where = ['t.tenant_id = ?', 't.id > ?'];
  const params: unknown[] = [identity.tenantId, afterSeq.toString()];
  if (args.runId) { where.push('t.run_id = ?'); params.push(args.runId); }
  if (args.flowId) { where.push('r.flow_id = ?'); params.push(args.flowId); }
  if (args.statuses?.length) { where.push('t.to_status = any(?)'); params.push(args.statuses); }
  const { rows } = await deps.db.em().getKnex().raw(`select t.id, t.run_id, r.flow_id, t.from_status, t.to_status, t.at
    from flow_runs.run_transition t join flow_runs.run r on r.id = t.run_id
    where ${where.join(' and ')} order by t.id limit ?`, [...params, limit] as never[]);
  return rows.map((r: Record<string, any>) => ({
    seq: BigInt(r.id), key: String(r.id), tenantId: identity.tenantId,
    value: { eventId: String(r.id), runId: r.run_id, flowId: r.flow_id, previousStatus: r.from_status, status: r.to_status, at: new Date(r.at) },
  }));
}

/**
 * The caller's tenant's run status changes that match the arguments and committed after `since` (default: after
 * the moment of subscribing): stored ones first, then live ones (platform/live-feed.ts). Another tenant's run simply
 * never matches.
 */
export async function subscribeRunStatus(deps: FlowRunsDeps, identity: Identity, args: RunStatusStreamArgs): Promise<AsyncIterable<RunStatusEvent>> {
  checkArgs(args);
  const afterSeq = args.since != null ? await checkSince(deps, identity, args.since) : await latestSeq(deps, identity);
  const statuses = args.statuses?.length ? new Set<string>(args.statuses) : null;
  return replayThenLive<RunStatusEvent>({
    hub: deps.runEvents,
    tenantId: identity.tenantId,
    matches: ({ value: e }) => (!args.runId || e.runId === args.runId) && (!args.flowId || e.flowId === args.flowId) && (!statuses || statuses.has(e.status)),
    replay: { afterSeq, page: (after, limit) => storedEvents(deps, identity, args, after, limit) },
    maxBuffered: deps.maxBufferedEvents,
  });
}
