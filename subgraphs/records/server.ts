import 'reflect-metadata';
import type { PlatformConfig } from '../../platform/config';
import { subgraphPort } from '../../platform/config';
import { openDatabase } from '../../platform/db';
import type { EventBus } from '../../platform/event-bus';
import { OutboxRelay } from '../../platform/outbox';
import { buildFederatedSchema, serveSubgraph } from '../../platform/subgraph-server';
import { RecordRow } from './entities';
import { migrations, SCHEMA } from './migrations';
import { RecordsResolver, RunRecordsResolver, toRecordType, type RecordsContext } from './resolvers';
import { findRecord } from './service';

export const definition = {
  name: 'records',
  resolvers: [RecordsResolver, RunRecordsResolver] as [typeof RecordsResolver, typeof RunRecordsResolver],
  referenceResolvers: {
    Record: {
      async __resolveReference(ref: { id: string }, ctx: RecordsContext) {
        const row = await findRecord(ctx.db.em(), ctx.identity, ref.id);
        return row ? toRecordType(row) : null;
      },
    },
    Run: { __resolveReference: (ref: { id: string }) => ({ id: ref.id }) },
  },
};

export async function startRecords(config: PlatformConfig, bus: EventBus) {
  const db = await openDatabase({ schema: SCHEMA, entities: [RecordRow], migrations, databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const relay = new OutboxRelay(db, SCHEMA, bus);
  relay.start();
  const schema = await buildFederatedSchema(definition);
  const limits = { maxBatchRecords: config.maxBatchRecords, maxPayloadBytes: config.maxPayloadBytes };
  const http = await serveSubgraph<RecordsContext>({
    schema, port: subgraphPort('records'), internalSecret: config.internalSecret, maxBodyBytes: config.maxBodyBytes,
    context: (identity) => ({ identity, db, limits }),
  });
  return {
    name: 'records', url: http.url, db, relay,
    async stop() {
      await http.stop();
      await relay.stop();
      await db.close();
    },
  };
}
