import 'reflect-metadata';
import { loadConfig } from '../platform/config';
import { createBus } from '../platform/bus';
import { startRecords } from '../subgraphs/records/server';
import { startAudit } from '../subgraphs/audit/server';
import { startFlowRuns } from '../subgraphs/flow-runs/server';
import { startGateway } from '../gateway/server';
import { forkGatewayWorkers } from '../gateway/cluster';
import { SUPERGRAPH_PATH } from './platform';

/**
 * `node dist/scripts/serve.js <gateway|records|audit|flow-runs>`: one component per process (needs Kafka + Postgres).
 * GATEWAY_WORKERS=n runs the gateway as n cluster workers on one port.
 */
async function main() {
  const name = process.argv[2];
  if (name === 'gateway' && forkGatewayWorkers(Number(process.env.GATEWAY_WORKERS || 1))) return;
  const config = loadConfig();
  if (!config.databaseUrl || !config.kafkaBrokers) throw new Error('one component per process needs DATABASE_URL and KAFKA_BROKERS (use npm start for embedded mode)');
  const bus = createBus(config, `${name}-${process.pid}`);
  const starters: Record<string, () => Promise<{ stop(): Promise<void> }>> = {
    records: () => startRecords(config, bus),
    audit: () => startAudit(config, bus),
    'flow-runs': () => startFlowRuns(config, bus),
    gateway: () => startGateway({ config, port: config.gatewayPort, supergraphPath: SUPERGRAPH_PATH }),
  };
  if (!starters[name]) throw new Error(`usage: serve.js <${Object.keys(starters).join('|')}>`);
  const running = await starters[name]();
  console.log(`${name} started`);
  process.send?.({ ready: true });
  let stopping = false; // a signal can arrive twice (e.g. from a cluster primary and from the shell)
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await running.stop();
    await bus.close();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop());
  process.on('SIGTERM', () => void stop());
}

main().catch((err) => { console.error(err.message); process.exit(1); });
