/** The event bus every subgraph uses: Kafka when KAFKA_BROKERS is set, an in-process log otherwise. */
export interface BusMessage {
  topic: string;
  key: string;
  value: string;
}

export type Handler = (msg: BusMessage) => Promise<void>;

export interface SubscribeOptions {
  /** A new group starts at the beginning of the topic (default) or at its current end. */
  fromBeginning?: boolean;
  /** The group is deleted when unsubscribed (a per-process group, e.g. for live subscriptions). */
  ephemeral?: boolean;
}

export interface EventBus {
  /** Resolves once every message is durably accepted, in order per key. */
  publish(messages: BusMessage[]): Promise<void>;
  /**
   * Delivers every message of the topic at least once, in order per key: for a new group from the beginning, or
   * from the topic's end at the time of the call with `fromBeginning: false`. Resolves once the consumer has joined.
   */
  subscribe(topic: string, groupId: string, handler: Handler, options?: SubscribeOptions): Promise<() => Promise<void>>;
  close(): Promise<void>;
}

/**
 * In-process bus with Kafka's semantics: an append-only log per topic, one offset per consumer group,
 * a failed handler is retried (at-least-once) and blocks later messages of that group (ordering).
 */
export class MemoryBus implements EventBus {
  private logs = new Map<string, BusMessage[]>();
  private groups = new Map<string, { offset: number; wake: () => void }>();
  private closed = false;

  async publish(messages: BusMessage[]): Promise<void> {
    for (const m of messages) {
      const log = this.logs.get(m.topic) ?? [];
      log.push({ ...m });
      this.logs.set(m.topic, log);
    }
    for (const g of this.groups.values()) g.wake();
  }

  async subscribe(topic: string, groupId: string, handler: Handler, options: SubscribeOptions = {}): Promise<() => Promise<void>> {
    const id = `${topic}\u0000${groupId}`;
    let stopped = false;
    let wake: () => void = () => {};
    const start = options.fromBeginning === false ? (this.logs.get(topic)?.length ?? 0) : 0;
    const state = this.groups.get(id) ?? { offset: start, wake: () => wake() };
    state.wake = () => wake();
    this.groups.set(id, state);
    const loop = (async () => {
      while (!stopped && !this.closed) {
        const log = this.logs.get(topic) ?? [];
        if (state.offset >= log.length) {
          await new Promise<void>((res) => { wake = res; setTimeout(res, 1000).unref(); });
          continue;
        }
        try {
          await handler(log[state.offset]);
          state.offset++;
        } catch (err) {
          console.error(`[bus] ${groupId} failed on ${topic}#${state.offset}, retrying:`, (err as Error).message);
          await new Promise((res) => setTimeout(res, 500));
        }
      }
    })();
    return async () => {
      stopped = true;
      wake();
      await loop;
      if (options.ephemeral) this.groups.delete(id);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const g of this.groups.values()) g.wake();
  }
}
