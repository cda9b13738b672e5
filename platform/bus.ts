import type { PlatformConfig } from './config';
import { MemoryBus, type EventBus } from './event-bus';
import { KafkaBus } from './kafka-bus';

/** Kafka when KAFKA_BROKERS is set; otherwise the in-process bus (all subgraphs then share one process). */
export function createBus(config: PlatformConfig, clientId: string): EventBus {
  return config.kafkaBrokers ? new KafkaBus(config.kafkaBrokers, clientId) : new MemoryBus();
}
