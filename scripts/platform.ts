import { basename, join } from 'node:path';
import { loadConfig, type PlatformConfig } from '../platform/config';
import { createBus } from '../platform/bus';
import type { EventBus } from '../platform/event-bus';
import { startRecords } from '../subgraphs/records/server';
import { startAudit } from '../subgraphs/audit/server';
import { startFlowRuns } from '../subgraphs/flow-runs/server';
import { startGateway, type RunningGateway } from '../gateway/server';

/** The repo's root, whether this file runs compiled (dist/scripts) or from source (scripts). */
export const REPO_ROOT = join(__dirname, '..', ...(basename(join(__dirname, '..')) === 'dist' ? ['..'] : []));
export const SUPERGRAPH_PATH = join(REPO_ROOT, 'schema', 'supergraph.graphql');

export interface Platform {
  gateway: RunningGateway;
  /** The event bus the subgraphs share (Kafka or in-process). */
  bus: EventBus;
  subgraphs: { name: string; url: string; stop(): Promise<void> }[];
  stop(): Promise<void>;
}

/** Starts every subgraph and the gateway in this process, sharing one event bus. */
export async function startPlatform(config: PlatformConfig = loadConfig(), gatewayPort = config.gatewayPort, supergraphPath = SUPERGRAPH_PATH): Promise<Platform> {
  const bus = createBus(config, `platform-${process.pid}`);
  const subgraphs = [await startRecords(config, bus), await startAudit(config, bus), await startFlowRuns(config, bus)];
  const gateway = await startGateway({ config, port: gatewayPort, supergraphPath });
  return {
    gateway,
    bus,
    subgraphs,
    async stop() {
      const step = async (name: string, fn: () => Promise<void>) => {
        const t = Date.now();
        await fn();
        if (process.env.DEBUG_SHUTDOWN) console.log(`stopped ${name} in ${Date.now() - t} ms`);
      };
      await step('gateway', () => gateway.stop());
      for (const s of [...subgraphs].reverse()) await step(s.name, () => s.stop());
      await step('bus', () => bus.close());
    },
  };
}
