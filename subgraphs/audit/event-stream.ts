import type { BusMessage } from '../../platform/event-bus';
import type { Database } from '../../platform/db';
import type { Identity } from '../../platform/identity';
import { codedError } from '../../platform/errors';
import { replayThenLive, type LiveEvent, type LiveHub } from '../../platform/live-feed';
import { SCHEMA } from './migrations';

/** Each stored (chained) event, written to the audit outbox in the transaction that stores it; keyed by tenant. */
export const CHAINED_TOPIC = 'audit.chained';

/** An event as stored: the envelope plus its place in the tenant's chain. */
export interface StoredAuditEvent {
  id: string;
  seq: string;
  tenantId: string;
  source: string;
  type: string;
  specversion: string;
  time: Date;
  subject: string;
  actor: string;
  correlationId: string;
  action: string;
  data: unknown;
  prevHash: string | null;
  hash: string;
}

export function chainedMessage(e: StoredAuditEvent): BusMessage {
  return { topic: CHAINED_TOPIC, key: e.tenantId, value: JSON.stringify(e) };
}

const asLive = (e: StoredAuditEvent): LiveEvent<StoredAuditEvent> => ({ seq: BigInt(e.seq), key: e.id, tenantId: e.tenantId, value: e });

export function liveAuditEvent(msg: BusMessage): LiveEvent<StoredAuditEvent> | null {
  try {
    const e = JSON.parse(msg.value);
    const ok = /^[0-9]+$/.test(e?.seq) && typeof e.hash === 'string' && [e.id, e.tenantId, e.type, e.time].every((f) => typeof f === 'string' && f.length > 0);
    return ok ? asLive({ ...e, time: new Date(e.time) }) : null;
  } catch {
    return null;
  }
}

const fromRow = (r: Record<string, any>): StoredAuditEvent => ({
  id: r.id, seq: String(r.seq), tenantId: r.tenant_id, source: r.source, type: r.type, specversion: r.specversion, time: new Date(r.time),
  subject: r.subject, actor: r.actor, correlationId: r.correlation_id, action: r.action, data: r.data, prevHash: r.prev_hash, hash: r.hash,
});

export interface AuditStreamArgs {
  filter?: { types?: string[] | null; subject?: string | null; correlationId?: string | null } | null;
  /** The id of the last AuditEvent the client saw. */
  since?: string | null;
}

const MAX_TEXT = 200;
const MAX_TYPES = 50;

function checkArgs({ filter, since }: AuditStreamArgs): void {
  const texts = [...(filter?.types ?? []), filter?.subject, filter?.correlationId];
  if ((filter?.types?.length ?? 0) > MAX_TYPES) throw codedError('BAD_USER_INPUT', `filter.types: at most ${MAX_TYPES} values`);
  if (texts.some((t) => t != null && t.length > MAX_TEXT)) throw codedError('BAD_USER_INPUT', `filter values must be at most ${MAX_TEXT} characters`);
  if (since != null && !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(since)) throw codedError('BAD_USER_INPUT', 'since must be the id of an earlier AuditEvent');
}

/** The seq of `since`; BAD_USER_INPUT unless it is an event of the caller's tenant. */
async function sinceSeq(db: Database, identity: Identity, since: string): Promise<bigint> {
  const { rows } = await db.em().getKnex().raw(`select seq from "${SCHEMA}".event where id = ? and tenant_id = ?`, [since, identity.tenantId]);
  if (rows.length === 0) throw codedError('BAD_USER_INPUT', `since: no audit event ${since} of this tenant`);
  return BigInt(rows[0].seq);
}

/** The tenant's latest seq: a subscription without `since` starts after it. */
async function latestSeq(db: Database, identity: Identity): Promise<bigint> {
  const { rows } = await db.em().getKnex().raw(`select coalesce(max(seq), 0) as seq from "${SCHEMA}".event where tenant_id = ?`, [identity.tenantId]);
  return BigInt(rows[0].seq);
}

async function storedEvents(db: Database, identity: Identity, filter: AuditStreamArgs['filter'], afterSeq: bigint, limit: number) {
  const where = ['tenant_id = ?', 'seq > ?'];
  const params: unknown[] = [identity.tenantId, afterSeq.toString()];
  if (filter?.types?.length) { where.push('type = any(?)'); params.push(filter.types); }
  if (filter?.subject != null) { where.push('subject = ?'); params.push(filter.subject); }
  if (filter?.correlationId != null) { where.push('correlation_id = ?'); params.push(filter.correlationId); }
  const { rows } = await db.em().getKnex().raw(`select * from "${SCHEMA}".event where ${where.join(' and ')} order by seq limit ?`, [...params, limit] as never[]);
  return rows.map((r: Record<string, any>) => asLive(fromRow(r)));
}

/** The caller's tenant's events that match the filter and were stored after `since` (default: after subscribing): stored ones first, then live ones. */
export async function subscribeAuditEvents(
  deps: { db: Database; events: LiveHub<StoredAuditEvent>; maxBufferedEvents: number }, identity: Identity, args: AuditStreamArgs,
): Promise<AsyncIterable<StoredAuditEvent>> {
  checkArgs(args);
  const { filter } = args;
  const afterSeq = args.since != null ? await sinceSeq(deps.db, identity, args.since) : await latestSeq(deps.db, identity);
  const types = filter?.types?.length ? new Set(filter.types) : null;
  return replayThenLive<StoredAuditEvent>({
    hub: deps.events,
    tenantId: identity.tenantId,
    matches: ({ value: e }) => (!types || types.has(e.type)) && (filter?.subject == null || e.subject === filter.subject)
      && (filter?.correlationId == null || e.correlationId === filter.correlationId),
    replay: { afterSeq, page: (after, limit) => storedEvents(deps.db, identity, filter, after, limit) },
    maxBuffered: deps.maxBufferedEvents,
  });
}
