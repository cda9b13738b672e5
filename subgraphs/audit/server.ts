import 'reflect-metadata';
import type { PlatformConfig } from '../../platform/config';
import { subgraphPort } from '../../platform/config';
import { openDatabase } from '../../platform/db';
import type { EventBus } from '../../platform/event-bus';
import { AUDIT_TOPIC } from '../../platform/audit-envelope';
import { OutboxRelay } from '../../platform/outbox';
import { startLiveFeed } from '../../platform/live-feed';
import { CHAINED_TOPIC, liveAuditEvent } from './event-stream';
import { buildFederatedSchema, serveSubgraph } from '../../platform/subgraph-server';
import { AuditEventRow } from './entities';
import { migrations, SCHEMA } from './migrations';
import { AuditResolver, AuditStreamResolver, RecordAuditResolver, RecordReference, RunAuditResolver, RunReference, type AuditContext } from './resolvers';
import { storeEvent } from './service';

export const definition = {
  name: 'audit',
  resolvers: [AuditResolver, AuditStreamResolver, RecordAuditResolver, RunAuditResolver] as [typeof AuditResolver, ...Function[]],
  orphanedTypes: [RecordReference, RunReference],
  referenceResolvers: {
    Record: { __resolveReference: (ref: { id: string }) => ({ id: ref.id }) },
    Run: { __resolveReference: (ref: { id: string }) => ({ id: ref.id }) },
  },
};

export async function startAudit(config: PlatformConfig, bus: EventBus) {
  const db = await openDatabase({ schema: SCHEMA, entities: [AuditEventRow], migrations, databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const relay = new OutboxRelay(db, SCHEMA, bus);
  relay.start();
  // Joined before the server accepts subscriptions, so none misses an event stored after it subscribed.
  const live = await startLiveFeed(bus, CHAINED_TOPIC, 'audit', liveAuditEvent);
  // One group for all audit instances: each event is stored by one of them, idempotently by id.
  const unsubscribe = await bus.subscribe(AUDIT_TOPIC, 'audit-store', async (msg) => { await storeEvent(db.em(), msg.value); });
  const schema = await buildFederatedSchema(definition);
  const http = await serveSubgraph<AuditContext>({
    schema, port: subgraphPort('audit'), internalSecret: config.internalSecret, maxBodyBytes: config.maxBodyBytes,
    context: (identity) => ({ identity, db, events: live.hub, maxBufferedEvents: config.subscriptionBufferEvents }),
  });
  return {
    name: 'audit', url: http.url, db, relay,
    async stop() {
      await http.stop();
      await live.stop();
      await unsubscribe();
      await relay.stop();
      await db.close();
    },
  };
}
