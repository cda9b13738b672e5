import { EventEmitter } from 'node:events';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Database } from './db';
import type { BusMessage, EventBus } from './event-bus';

/** SQL for a subgraph's outbox table; add it to the subgraph's migrations. */
export function outboxMigration(schema: string): string {
  return `create table "${schema}".outbox (
    id bigserial primary key,
    topic text not null,
    key text not null,
    value text not null,
    created_at timestamptz not null default now(),
    published_at timestamptz
  );
  create index outbox_unpublished on "${schema}".outbox (id) where published_at is null;`;
}

/** Emits a schema's name when a transaction that wrote to its outbox has committed (this process only). */
const committed = new EventEmitter().setMaxListeners(0);

/** Writes messages to the outbox on the caller's transaction: they exist if and only if it commits. */
export async function enqueue(em: EntityManager, schema: string, messages: BusMessage[]): Promise<void> {
  if (messages.length === 0) return;
  const trx = em.getTransactionContext()!;
  const params = messages.flatMap((m) => [m.topic, m.key, m.value]);
  await em.getKnex().raw(`insert into "${schema}".outbox (topic, key, value) values ${messages.map(() => '(?, ?, ?)').join(', ')}`, params)
    .transacting(trx);
  // knex settles executionPromise when the transaction ends: wake this process's relay instead of waiting for its poll.
  (trx as { executionPromise?: Promise<unknown> }).executionPromise?.then(() => committed.emit(schema), () => {});
}

/**
 * Publishes committed outbox rows in id order, at least once: a row is marked only after the bus
 * accepted it, and a failure retries with backoff. One relay per schema works at a time (advisory lock),
 * which keeps order per key across several processes of the same subgraph.
 */
export class OutboxRelay {
  private timer?: NodeJS.Timeout;
  private running?: Promise<void>;
  private stopped = false;
  private backoffMs = 0;
  private idle = false;
  private wake = () => {
    // Only an idle relay (waiting for its next poll, not backing off) is woken early.
    if (!this.idle || this.backoffMs > 0 || this.stopped) return;
    clearTimeout(this.timer);
    this.idle = false;
    this.running = this.tick();
  };

  constructor(private db: Database, private schema: string, private bus: EventBus, private intervalMs = 100) {}

  start(): void {
    committed.on(this.schema, this.wake);
    this.running = this.tick();
  }

  private tick = async (): Promise<void> => {
    if (this.stopped) return;
    let published = 0;
    try {
      published = await this.drainOnce();
      this.backoffMs = 0;
    } catch (err) {
      this.backoffMs = Math.min(Math.max(this.backoffMs * 2, 200), 5000);
      console.error(`[outbox ${this.schema}] publish failed, retrying in ${this.backoffMs} ms:`, (err as Error).message);
    }
    if (this.stopped) return;
    this.idle = published === 0;
    this.timer = setTimeout(() => { this.idle = false; this.running = this.tick(); }, published > 0 ? 0 : this.intervalMs + this.backoffMs);
  };

  /** Publishes up to one batch; returns how many rows it published. */
  async drainOnce(batch = 500): Promise<number> {
    const em = this.db.em();
    return em.transactional(async (tx) => {
      const knex = tx.getKnex();
      const trx = tx.getTransactionContext()!;
      const lock = await knex.raw(`select pg_try_advisory_xact_lock(hashtext(?)) as ok`, [`outbox:${this.schema}`]).transacting(trx);
      if (!lock.rows[0].ok) return 0;
      const { rows } = await knex.raw(`select id, topic, key, value from "${this.schema}".outbox where published_at is null order by id limit ?`, [batch]).transacting(trx);
      if (rows.length === 0) return 0;
      await this.bus.publish(rows.map((r: BusMessage) => ({ topic: r.topic, key: r.key, value: r.value })));
      await knex.raw(`update "${this.schema}".outbox set published_at = now() where id = any(?)`, [rows.map((r: { id: string }) => r.id)]).transacting(trx);
      return rows.length;
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    committed.off(this.schema, this.wake);
    clearTimeout(this.timer);
    await this.running;
  }
}
