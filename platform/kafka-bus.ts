import { Kafka, logLevel, type Producer, type Consumer } from 'kafkajs';
import type { BusMessage, EventBus, Handler } from './event-bus';

process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1';

export class KafkaBus implements EventBus {
  private kafka: Kafka;
  private producer?: Producer;
  private consumers = new Set<Consumer>();
  private knownTopics = new Set<string>();

  constructor(brokers: string[], clientId: string) {
    this.kafka = new Kafka({ clientId, brokers, logLevel: logLevel.NOTHING, retry: { retries: 8, initialRetryTime: 200 } });
  }

  private async ensureTopic(topic: string): Promise<void> {
    if (this.knownTopics.has(topic)) return;
    const admin = this.kafka.admin();
    await admin.connect();
    try {
      await admin.createTopics({ topics: [{ topic, numPartitions: 3 }], waitForLeaders: true });
    } finally {
      await admin.disconnect();
    }
    this.knownTopics.add(topic);
  }

  async publish(messages: BusMessage[]): Promise<void> {
    if (messages.length === 0) return;
    if (!this.producer) {
      const p = this.kafka.producer({ idempotent: true, maxInFlightRequests: 1 });
      await p.connect();
      this.producer = p;
    }
    const byTopic = new Map<string, { key: string; value: string }[]>();
    for (const m of messages) {
      await this.ensureTopic(m.topic);
      byTopic.set(m.topic, [...(byTopic.get(m.topic) ?? []), { key: m.key, value: m.value }]);
    }
    await this.producer.sendBatch({ acks: -1, topicMessages: [...byTopic].map(([topic, msgs]) => ({ topic, messages: msgs })) });
  }

  async subscribe(topic: string, groupId: string, handler: Handler): Promise<() => Promise<void>> {
    await this.ensureTopic(topic);
    const consumer = this.kafka.consumer({ groupId, retry: { retries: Number.MAX_SAFE_INTEGER, initialRetryTime: 300, maxRetryTime: 5000 } });
    await consumer.connect();
    await consumer.subscribe({ topic, fromBeginning: true });
    const joined = new Promise<void>((res) => consumer.on(consumer.events.GROUP_JOIN, () => res()));
    // A throwing handler makes kafkajs retry the same message: at-least-once, in order per partition.
    await consumer.run({
      eachMessage: async ({ message }) => {
        await handler({ topic, key: message.key?.toString() ?? '', value: message.value?.toString() ?? '' });
      },
    });
    await joined;
    this.consumers.add(consumer);
    return async () => {
      this.consumers.delete(consumer);
      await consumer.disconnect();
    };
  }

  async close(): Promise<void> {
    for (const c of this.consumers) await c.disconnect().catch(() => {});
    this.consumers.clear();
    await this.producer?.disconnect().catch(() => {});
  }
}
