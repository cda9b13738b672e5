/**
 * Our gateway as shipped (`startGateway` from gateway/server.ts: JWT auth, signed identity header, REST routes,
 * request log off with LOG_REQUESTS=0). `node dist/bench/gateways/ours.js <port> <supergraph file> [workers]`.
 * With workers > 1 the primary forks that many node:cluster workers sharing the port (the OS/cluster
 * round-robin spreads connections; a WebSocket or SSE stream is one connection, so it stays on its worker).
 */
import 'reflect-metadata';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../../platform/config';
import { startGateway as shippedStartGateway } from '../../gateway/server';
import { forkGatewayWorkers } from '../../gateway/cluster';

async function main() {
  const [port, file, workersArg] = process.argv.slice(2);
  const workers = Number(workersArg ?? 1);
  process.env.LOG_REQUESTS = '0';
  // The same cluster mode as `GATEWAY_WORKERS` in scripts/serve.ts.
  if (forkGatewayWorkers(workers, () => process.send?.({ ready: true, url: `http://127.0.0.1:${port}` }))) return;
  const config = { ...loadConfig(), databaseUrl: undefined, kafkaBrokers: undefined, dataDir: mkdtempSync(join(tmpdir(), 'bench-gw-')) };
  // experiments only (bench/experiments/patch-server.ts): a patched copy of the compiled server
  const startGateway: typeof shippedStartGateway = process.env.BENCH_GATEWAY_MODULE ? require(process.env.BENCH_GATEWAY_MODULE).startGateway : shippedStartGateway;
  const gw = await startGateway({ config, port: Number(port), supergraphPath: file });
  // exit normally on SIGTERM so `node --cpu-prof` writes its profile
  process.on('SIGTERM', () => process.exit(0));
  process.send?.({ ready: true, url: gw.url });
}

main().catch((err) => { console.error(err); process.exit(1); });
