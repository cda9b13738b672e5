import 'reflect-metadata';
import { randomUUID } from 'node:crypto';
import { GraphQLError } from 'graphql';
import type { PlatformConfig } from '../../platform/config';
import { subgraphPort } from '../../platform/config';
import { openDatabase } from '../../platform/db';
import type { EventBus } from '../../platform/event-bus';
import type { Identity } from '../../platform/identity';
import { OutboxRelay } from '../../platform/outbox';
import { startLiveFeed } from '../../platform/live-feed';
import { buildFederatedSchema, serveSubgraph } from '../../platform/subgraph-server';
import { ENTITIES } from './entities';
import { migrations, SCHEMA } from './migrations';
import { DEFAULT_POLICY_LIMITS } from './policies';
import { createStatusCache } from './status-cache';
import { parseStatusReport, STATUS_CHANGED_TOPIC, STATUS_TOPIC } from './run-messages';
import { liveRunStatusEvent } from './run-events';
import { applyStatusReport, ORCHESTRATOR_SCOPE } from './runs';
import { getRun } from './run-store';
import { getFlow } from './registry';
import type { FlowRunsDeps } from './deps';
import { FlowResolver, FlowVersionResolver, RunResolver, RunStatusEventResolver, WebhookResolver, type FlowRunsContext } from './resolvers';

export const definition = {
  name: 'flow-runs',
  resolvers: [FlowResolver, FlowVersionResolver, RunResolver, RunStatusEventResolver, WebhookResolver] as [typeof FlowResolver, ...Function[]],
  federationImports: ['@key', '@shareable'],
  referenceResolvers: {
    Run: { __resolveReference: (ref: { id: string }, ctx: FlowRunsContext) => getRun(ctx.deps, ctx.identity, ref.id) },
    Flow: { __resolveReference: (ref: { id: string }, ctx: FlowRunsContext) => getFlow(ctx.deps.db.em(), ctx.identity, ref.id) },
  },
};

/** Applies one `flow_runs.status` message. Reports that can never apply are logged and skipped; other failures retry. */
async function consumeStatus(deps: FlowRunsDeps, value: string): Promise<void> {
  const report = parseStatusReport(value);
  if ('invalid' in report) {
    console.error(`[flow-runs] skipping a ${STATUS_TOPIC} message: ${report.invalid}`);
    return;
  }
  const orchestrator: Identity = { tenantId: report.tenantId, subject: 'orchestrator', kind: 'system', scopes: [ORCHESTRATOR_SCOPE], correlationId: randomUUID() };
  try {
    await applyStatusReport(deps, orchestrator, report);
  } catch (err) {
    if (err instanceof GraphQLError && err.extensions?.code) {
      console.error(`[flow-runs] report ${report.reportId} for run ${report.runId} not applied: ${err.message}`);
      return;
    }
    throw err;
  }
}

export async function startFlowRuns(config: PlatformConfig, bus: EventBus) {
  const db = await openDatabase({ schema: SCHEMA, entities: ENTITIES, migrations, databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  const cache = createStatusCache(config.redisUrl);
  // Joined before the server accepts subscriptions, so none misses an event committed after it subscribed.
  const live = await startLiveFeed(bus, STATUS_CHANGED_TOPIC, 'flow-runs', liveRunStatusEvent);
  const deps: FlowRunsDeps = {
    db, cache, secretKey: config.secretsKey, maxInputBytes: config.maxPayloadBytes,
    runEvents: live.hub, maxBufferedEvents: config.subscriptionBufferEvents,
    policyLimits: { ...DEFAULT_POLICY_LIMITS, maxTotalTimeoutSeconds: config.flowMaxTotalTimeoutSeconds },
  };
  const relay = new OutboxRelay(db, SCHEMA, bus);
  relay.start();
  // One group for every instance: each report is applied by one of them (and is idempotent anyway).
  const unsubscribe = await bus.subscribe(STATUS_TOPIC, 'flow-runs-status', (msg) => consumeStatus(deps, msg.value));
  const schema = await buildFederatedSchema(definition);
  const http = await serveSubgraph<FlowRunsContext>({
    schema, port: subgraphPort('flow-runs'), internalSecret: config.internalSecret, maxBodyBytes: config.maxBodyBytes,
    context: (identity) => ({ identity, deps }),
  });
  return {
    name: 'flow-runs', url: http.url, db, deps, relay,
    async stop() {
      await http.stop();
      await live.stop();
      await unsubscribe();
      await relay.stop();
      await cache.close();
      await db.close();
    },
  };
}
