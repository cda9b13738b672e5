import { ConfigResourceTypes, Kafka, logLevel, type Producer, type Consumer } from 'kafkajs';
import type { BusMessage, EventBus, Handler } from './event-bus';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

/**
 * kafkajs nests retriers (send → cluster connect → metadata), each doubling its sleep up to maxRetryTime
 * (default 30 s): a send during an outage noticed a restarted broker only tens of seconds later. Sleeps are
 * capped at 2 s for admin/consumers (still ~45 s of retries at startup); a send retries briefly and the
 * outbox relay's own backoff drives the long-term retries.
 */
const PRODUCER_RETRY = { retries: 2, initialRetryTime: 100, maxRetryTime: 500 };
const CLIENT_RETRY = { retries: 25, initialRetryTime: 200, maxRetryTime: 2000 };
const TIMEOUTS = { connectionTimeout: 3000, requestTimeout: 10000 };

/**
 * Kafka's default 1 MB message limit is below what the platform may carry (a 1 MiB run input plus its definition
 * and envelope): a rejected message would stall its outbox for good. Topics allow 16 MiB per record batch, and a
 * publish is sent in chunks of at most 4 MiB so several large messages never share one batch over the limit.
 */
const MAX_MESSAGE_BYTES = 16 * 1024 * 1024;
const MAX_SEND_BYTES = 4 * 1024 * 1024;

function chunksBySize(messages: BusMessage[]): BusMessage[][] {
  const chunks: BusMessage[][] = [];
  let current: BusMessage[] = [];
  let size = 0;
  for (const m of messages) {
    const bytes = Buffer.byteLength(m.value) + Buffer.byteLength(m.key) + 64;
    if (current.length > 0 && size + bytes > MAX_SEND_BYTES) {
      chunks.push(current);
      current = [];
      size = 0;
    }
    current.push(m);
    size += bytes;
  }
  if (current.length > 0) chunks.push(current);
  return chunks;
}

export class KafkaBus implements EventBus {
  private kafka: Kafka;
  private producerKafka: Kafka;
  private producer?: Promise<Producer>;
  /** How to stop each live consumer (unsubscribe does the same). */
  private stops = new Map<Consumer, () => Promise<void>>();
  private knownTopics = new Set<string>();

  constructor(brokers: string[], clientId: string) {
    this.kafka = new Kafka({ clientId, brokers, logLevel: logLevel.NOTHING, retry: CLIENT_RETRY, ...TIMEOUTS });
    this.producerKafka = new Kafka({ clientId, brokers, logLevel: logLevel.NOTHING, retry: PRODUCER_RETRY, ...TIMEOUTS });
  }

  private async ensureTopic(topic: string): Promise<void> {
    if (this.knownTopics.has(topic)) return;
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      const configEntries = [{ name: 'max.message.bytes', value: String(MAX_MESSAGE_BYTES) }];
      const created = await admin.createTopics({ topics: [{ topic, numPartitions: 3, configEntries }], waitForLeaders: true });
      // A topic made elsewhere (or before this limit existed) gets it too. Our topics set no other overrides.
      if (!created) await admin.alterConfigs({ validateOnly: false, resources: [{ type: ConfigResourceTypes.TOPIC, name: topic, configEntries }] });
    } finally {
      await admin.disconnect();
    }
    this.knownTopics.add(topic);
  }

  private connectProducer(): Promise<Producer> {
    this.producer ??= (async () => {
      const p = this.producerKafka.producer({ idempotent: true, maxInFlightRequests: 1, retry: PRODUCER_RETRY });
      try {
        await p.connect();
        return p;
      } catch (err) {
        await p.disconnect().catch(() => {});
        throw err;
      }
    })();
    return this.producer;
  }

  /**
   * After a failed send the producer is dropped: the next publish connects afresh (new producer id, fresh
   * metadata) instead of reusing connection state from before the outage. A resend may duplicate messages
   * the broker did store (at least once; consumers dedupe by id), and the caller resends in the same order.
   */
  async publish(messages: BusMessage[]): Promise<void> {
    if (messages.length === 0) return;
    const pending = this.connectProducer();
    try {
      const producer = await pending;
      for (const m of messages) await this.ensureTopic(m.topic);
      // Chunks go one after another, so order per key holds across them.
      for (const chunk of chunksBySize(messages)) {
        const byTopic = new Map<string, { key: string; value: string }[]>();
        for (const m of chunk) byTopic.set(m.topic, [...(byTopic.get(m.topic) ?? []), { key: m.key, value: m.value }]);
        await producer.sendBatch({ acks: -1, timeout: 5000, topicMessages: [...byTopic].map(([topic, msgs]) => ({ topic, messages: msgs })) });
      }
    } catch (err) {
      if (this.producer === pending) {
        this.producer = undefined;
        await pending.then((p) => p.disconnect(), () => {}).catch(() => {});
      }
      throw err;
    }
  }

  async subscribe(topic: string, groupId: string, handler: Handler, options: { fromBeginning?: boolean; ephemeral?: boolean } = {}): Promise<() => Promise<void>> {
    const fromBeginning = options.fromBeginning ?? true;
    await this.ensureTopic(topic);
    // kafkajs resolves "latest" only at the first fetch, after the join: seeking to the end as it was before joining
    // leaves no moment in which a message is skipped.
    const ends = fromBeginning ? [] : await this.endOffsets(topic);
    // A consumer that crashed while the broker was down rejoins as a new member, and the restarted coordinator
    // waits for the old member's session to expire before it assigns partitions: 10 s instead of the default 30 s.
    // kafkajs heartbeats between messages, so a handler must finish well within the session timeout.
    let stopped = false;
    const consumer = this.kafka.consumer({
      groupId, sessionTimeout: 10000, heartbeatInterval: 3000,
      // After unsubscribe a crash must not restart the consumer (it would outlive its owner).
      retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 5000, restartOnFailure: async () => !stopped },
    });
    // kafkajs restarts a crashed consumer on its own; disconnect() cannot stop a restart already under way, so a
    // stop waits for that restart to settle (joined again, or crashed for good) before disconnecting.
    let restarting: Promise<void> | null = null;
    let settle: () => void = () => {};
    consumer.on(consumer.events.CRASH, (e) => {
      settle();
      restarting = e.payload.restart ? new Promise<void>((res) => { settle = res; }) : null;
    });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning });
    let joinedOnce = false;
    const joined = new Promise<void>((res) => consumer.on(consumer.events.GROUP_JOIN, () => {
      settle();
      restarting = null;
      // GROUP_JOIN fires before the first fetch; later joins (rebalances, restarts) keep the committed offsets.
      if (!joinedOnce) for (const { partition, offset } of ends) consumer.seek({ topic, partition, offset });
      joinedOnce = true;
      res();
    }));
    // A throwing handler makes kafkajs retry the same message: at-least-once, in order per partition.
    await consumer.run({
      eachMessage: async ({ message }) => {
        await handler({ topic, key: message.key?.toString() ?? '', value: message.value?.toString() ?? '' });
      },
    });
    await joined;
    if (options.ephemeral) {
      // Wrapping the method (not the DISCONNECT event, which kafkajs also emits when it restarts a crashed consumer)
      // deletes the group both on unsubscribe and in close().
      const disconnect = consumer.disconnect;
      consumer.disconnect = async () => { await disconnect(); await this.deleteGroup(groupId); };
    }
    const stop = async () => {
      stopped = true;
      if (restarting) await Promise.race([restarting, new Promise((res) => setTimeout(res, 60_000).unref())]);
      await consumer.disconnect();
    };
    this.stops.set(consumer, stop);
    return async () => {
      this.stops.delete(consumer);
      await stop();
    };
  }

  private async endOffsets(topic: string): Promise<{ partition: number; offset: string }[]> {
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      return (await admin.fetchTopicOffsets(topic)).map(({ partition, high }) => ({ partition, offset: high }));
    } finally {
      await admin.disconnect();
    }
  }

  /** Best effort: an ephemeral group left behind only costs the broker its (expiring) offsets. */
  private async deleteGroup(groupId: string): Promise<void> {
    const admin = this.kafka.admin({ retry: { retries: 3, initialRetryTime: 200, maxRetryTime: 1000 } });
    try {
      await admin.connect();
      await admin.deleteGroups([groupId]);
    } catch (err) {
      console.error(`[bus] could not delete consumer group ${groupId}:`, (err as Error).message);
    } finally {
      await admin.disconnect().catch(() => {});
    }
  }

  async close(): Promise<void> {
    for (const stop of this.stops.values()) await stop().catch(() => {});
    this.stops.clear();
    const producer = this.producer;
    this.producer = undefined;
    await producer?.then((p) => p.disconnect(), () => {}).catch(() => {});
  }
}
