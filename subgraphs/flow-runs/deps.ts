import type { EntityManager } from '@mikro-orm/postgresql';
import type { Database } from '../../platform/db';
import type { Identity } from '../../platform/identity';
import type { BusMessage } from '../../platform/event-bus';
import { auditEnvelope, auditMessage } from '../../platform/audit-envelope';
import { codedError } from '../../platform/errors';
import { enqueue } from '../../platform/outbox';
import type { PolicyLimits } from './policies/types';
import type { LiveHub } from '../../platform/live-feed';
import type { RunStatusCache } from './status-cache';
import type { RunStatusEvent } from './run-events';
import { SCHEMA } from './migrations';

/** What every flow-runs service function needs; built once in server.ts. */
export interface FlowRunsDeps {
  db: Database;
  cache: RunStatusCache;
  policyLimits: PolicyLimits;
  /** Key that seals webhook secrets at rest. */
  secretKey: string;
  maxInputBytes: number;
  /** This process's live status changes, fed from `flow_runs.status_changed`. */
  runEvents: LiveHub<RunStatusEvent>;
  /** Live events that may wait for one subscriber before it is ended with SUBSCRIBER_TOO_SLOW. */
  maxBufferedEvents: number;
}

const AUDIT_SOURCE = '/subgraphs/flow-runs';

export function audit(identity: Identity, type: string, subject: string, data: unknown, correlationId?: string): BusMessage {
  return auditMessage(auditEnvelope(AUDIT_SOURCE, identity, { type, subject, action: type.toLowerCase(), data, correlationId }));
}

/** Runs SQL on the transaction's own connection (a pool of one would deadlock otherwise; docs/gotchas.md). */
export function sql(tx: EntityManager) {
  const knex = tx.getKnex();
  const trx = tx.getTransactionContext()!;
  return {
    knex,
    raw: async <T = Record<string, any>>(text: string, params: unknown[] = []): Promise<T[]> => (await knex.raw(text, params as never[]).transacting(trx)).rows as T[],
    table: (name: string) => knex.withSchema(SCHEMA).table(name).transacting(trx),
    enqueue: (messages: BusMessage[]) => enqueue(tx, SCHEMA, messages),
  };
}

/** Writes audit events on their own, for decisions that change nothing else (a policy denial). */
export async function auditAlone(deps: FlowRunsDeps, messages: BusMessage[]): Promise<void> {
  await deps.db.em().transactional(async (tx) => { await enqueue(tx, SCHEMA, messages); });
}

export const isUuid = (id: string) => /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id);

/** Flows, runs and webhooks are changed by people (JWT) only; edge API keys may read. */
export function assertUser(identity: Identity): void {
  if (identity.kind !== 'user') throw codedError('FORBIDDEN', 'this operation needs a user token (Authorization: Bearer), not an API key');
}

export function notFound(what: string, id: string) {
  return codedError('NOT_FOUND', `${what} ${id} not found`);
}
