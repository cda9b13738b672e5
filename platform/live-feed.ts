import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import { GraphQLError } from 'graphql';
import type { BusMessage, EventBus } from './event-bus';
import { codedError } from './errors';

/** One committed change as subscriptions see it. */
export interface LiveEvent<T> {
  /** Commit-ordered within a tenant: every event with a lower seq of that tenant committed earlier. */
  seq: bigint;
  /** Unique per event; a redelivery carries the same key. */
  key: string;
  tenantId: string;
  value: T;
}

type Listener<T> = (event: LiveEvent<T>) => void;

/**
 * In-process fan-out of a topic's events to this process's subscriptions, by tenant. Kafka delivers at least once,
 * so the hub drops an event whose key it has recently seen.
 */
export class LiveHub<T> {
  private byTenant = new Map<string, Set<Listener<T>>>();
  private recent = new Set<string>();

  constructor(private maxRecentKeys = 10_000) {}

  publish(event: LiveEvent<T>): void {
    if (this.recent.has(event.key)) return;
    this.recent.add(event.key);
    if (this.recent.size > this.maxRecentKeys) this.recent.delete(this.recent.values().next().value!);
    for (const listener of this.byTenant.get(event.tenantId) ?? []) listener(event);
  }

  /** Only events of `tenantId` reach the listener; returns the unsubscribe function. */
  subscribe(tenantId: string, listener: Listener<T>): () => void {
    const set = this.byTenant.get(tenantId) ?? new Set();
    this.byTenant.set(tenantId, set);
    set.add(listener);
    return () => {
      set.delete(listener);
      if (set.size === 0 && this.byTenant.get(tenantId) === set) this.byTenant.delete(tenantId);
    };
  }

  get listenerCount(): number {
    let n = 0;
    for (const set of this.byTenant.values()) n += set.size;
    return n;
  }
}

/**
 * Feeds a hub from a bus topic with a consumer group of this process alone (a shared group would hand each event to
 * one process only), starting at the topic's current end; the group is deleted on stop. Resolves once it has joined.
 */
export async function startLiveFeed<T>(
  bus: EventBus, topic: string, name: string, parse: (msg: BusMessage) => LiveEvent<T> | null, hub = new LiveHub<T>(),
): Promise<{ hub: LiveHub<T>; stop: () => Promise<void> }> {
  const groupId = `${name}-live-${hostname()}-${process.pid}-${randomUUID().slice(0, 8)}`;
  const stop = await bus.subscribe(topic, groupId, async (msg) => {
    const event = parse(msg);
    if (event) hub.publish(event);
    else console.error(`[live ${name}] skipping a malformed ${topic} message:`, msg.value.slice(0, 200));
  }, { fromBeginning: false, ephemeral: true });
  return { hub, stop };
}

export interface ReplaySource<T> {
  /** The client's last seen seq: the replay starts after it. */
  afterSeq: bigint;
  /** Matching events with seq > afterSeq, in seq order, at most `limit`. */
  page(afterSeq: bigint, limit: number): Promise<LiveEvent<T>[]>;
}

export interface ReplayThenLiveOptions<T> {
  hub: LiveHub<T>;
  tenantId: string;
  matches: (event: LiveEvent<T>) => boolean;
  /** Without it the stream is live only. */
  replay?: ReplaySource<T>;
  /** Live events that may wait for a slow reader; one more ends the stream with SUBSCRIBER_TOO_SLOW. */
  maxBuffered: number;
  replayPageSize?: number;
}

/**
 * A subscription's stream: stored events after `replay.afterSeq`, then live ones, with no gap and no duplicate at the
 * seam. The hub listener is attached before the first replay query, so every event committed after that query is
 * caught live; because seq is commit-ordered per tenant, a live event with seq ≤ the last replayed one was already
 * replayed and is dropped. Written by hand (not an async generator) so `return()` detaches from the hub at once,
 * even while a `next()` is waiting.
 */
export function replayThenLive<T>(opts: ReplayThenLiveOptions<T>): AsyncIterableIterator<T> {
  return new ReplayThenLive(opts);
}

type Waiter<T> = { resolve: (r: IteratorResult<T>) => void; reject: (err: unknown) => void };

class ReplayThenLive<T> implements AsyncIterableIterator<T> {
  private replayed: T[] = [];
  private live: LiveEvent<T>[] = [];
  private replaying: boolean;
  private lastReplayedSeq: bigint | undefined;
  private waiter?: Waiter<T>;
  private failure?: GraphQLError;
  private finished = false;
  private detach: () => void;

  constructor(private opts: ReplayThenLiveOptions<T>) {
    this.replaying = !!opts.replay;
    this.lastReplayedSeq = opts.replay?.afterSeq;
    this.detach = opts.hub.subscribe(opts.tenantId, (event) => this.onLive(event));
  }

  [Symbol.asyncIterator](): AsyncIterableIterator<T> {
    return this;
  }

  async next(): Promise<IteratorResult<T>> {
    for (;;) {
      if (this.failure) {
        const failure = this.failure;
        this.failure = undefined;
        this.finished = true;
        throw failure;
      }
      if (this.finished) return { value: undefined, done: true };
      if (this.replayed.length > 0) return { value: this.replayed.shift()!, done: false };
      if (this.replaying) {
        await this.replayNextPage();
        continue;
      }
      const event = this.takeLive();
      if (event) return { value: event.value, done: false };
      return new Promise((resolve, reject) => { this.waiter = { resolve, reject }; });
    }
  }

  async return(): Promise<IteratorResult<T>> {
    this.end();
    return { value: undefined, done: true };
  }

  async throw(err?: unknown): Promise<IteratorResult<T>> {
    this.end();
    throw err;
  }

  private onLive(event: LiveEvent<T>): void {
    if (this.finished || this.failure || !this.opts.matches(event)) return;
    this.live.push(event);
    if (this.live.length > this.opts.maxBuffered) {
      this.fail(codedError('SUBSCRIBER_TOO_SLOW', `more than ${this.opts.maxBuffered} events were waiting for this subscriber; resubscribe with since`));
    } else if (this.waiter) {
      const next = this.takeLive();
      if (next) this.settle((w) => w.resolve({ value: next.value, done: false }));
    }
  }

  /** The oldest waiting live event that the replay has not already delivered. */
  private takeLive(): LiveEvent<T> | undefined {
    for (;;) {
      const event = this.live.shift();
      if (!event || this.lastReplayedSeq === undefined || event.seq > this.lastReplayedSeq) return event;
    }
  }

  private async replayNextPage(): Promise<void> {
    const limit = this.opts.replayPageSize ?? 200;
    let page: LiveEvent<T>[];
    try {
      page = await this.opts.replay!.page(this.lastReplayedSeq!, limit);
    } catch (err) {
      this.end();
      if (err instanceof GraphQLError) throw err;
      console.error('[live] replay failed:', (err as Error).message);
      throw codedError('INTERNAL_SERVER_ERROR', 'could not read the stored events');
    }
    if (this.finished || this.failure) return;
    for (const event of page) {
      this.replayed.push(event.value);
      this.lastReplayedSeq = event.seq;
    }
    if (page.length < limit) this.replaying = false;
    this.live = this.live.filter((e) => e.seq > this.lastReplayedSeq!);
  }

  private settle(fn: (w: Waiter<T>) => void): void {
    const waiter = this.waiter;
    this.waiter = undefined;
    if (waiter) fn(waiter);
  }

  /** The reader gets the error on its next (or pending) `next()`; the buffers are released now. */
  private fail(err: GraphQLError): void {
    this.release();
    if (this.waiter) {
      this.finished = true;
      this.settle((w) => w.reject(err));
    } else {
      this.failure = err;
    }
  }

  private end(): void {
    this.release();
    this.finished = true;
    this.failure = undefined;
    this.settle((w) => w.resolve({ value: undefined, done: true }));
  }

  private release(): void {
    this.detach();
    this.replayed = [];
    this.live = [];
  }
}
