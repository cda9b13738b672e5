import 'reflect-metadata';
import type { PlatformConfig } from '../../platform/config';
import { subgraphPort } from '../../platform/config';
import { openDatabase } from '../../platform/db';
import type { EventBus } from '../../platform/event-bus';
import { AUDIT_TOPIC } from '../../platform/audit-envelope';
import { buildFederatedSchema, serveSubgraph } from '../../platform/subgraph-server';
import { AuditEventRow } from './entities';
import { migrations, SCHEMA } from './migrations';
import { AuditResolver, RecordAuditResolver, RecordReference, RunAuditResolver, RunReference, type AuditContext } from './resolvers';
import { storeEvent } from './service';

export const definition = {
  name: 'audit',
  resolvers: [AuditResolver, RecordAuditResolver, RunAuditResolver] as [typeof AuditResolver, typeof RecordAuditResolver, typeof RunAuditResolver],
  orphanedTypes: [RecordReference, RunReference],
  referenceResolvers: {
    Record: { __resolveReference: (ref: { id: string }) => ({ id: ref.id }) },
    Run: { __resolveReference: (ref: { id: string }) => ({ id: ref.id }) },
  },
};

export async function startAudit(config: PlatformConfig, bus: EventBus) {
  const db = await openDatabase({ schema: SCHEMA, entities: [AuditEventRow], migrations, databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  // One group for all audit instances: each event is stored by one of them, idempotently by id.
  const unsubscribe = await bus.subscribe(AUDIT_TOPIC, 'audit-store', async (msg) => { await storeEvent(db.em(), msg.value); });
  const schema = await buildFederatedSchema(definition);
  const http = await serveSubgraph<AuditContext>({
    schema, port: subgraphPort('audit'), internalSecret: config.internalSecret, maxBodyBytes: config.maxBodyBytes,
    context: (identity) => ({ identity, db }),
  });
  return {
    name: 'audit', url: http.url, db,
    async stop() {
      await http.stop();
      await unsubscribe();
      await db.close();
    },
  };
}
