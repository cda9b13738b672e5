import cluster from 'node:cluster';

/**
 * The gateway's V8 young generation: with Node's default (16 MB semi-spaces) scavenges run constantly under load
 * (GC was ~22 % of the profile). Measured 1.12–1.3× req/s and a lower p99 (docs/performance.md).
 */
export const GATEWAY_NODE_FLAGS = ['--max-semi-space-size=64'];

/**
 * Forks `workers` gateway processes that share the port (node:cluster hands each connection to one worker, so a
 * WebSocket or SSE stream stays on the worker that accepted it). Returns true in the primary, which only supervises;
 * returns false in a worker (or when one worker is asked for), which then starts the gateway itself.
 * Limits per tenant (MAX_CONNECTIONS_PER_TENANT) apply per worker.
 */
export function forkGatewayWorkers(workers: number, onReady?: () => void): boolean {
  if (workers <= 1 || !cluster.isPrimary) return false;
  cluster.setupPrimary({ execArgv: [...process.execArgv, ...GATEWAY_NODE_FLAGS.filter((f) => !process.execArgv.includes(f))] });
  let ready = 0;
  for (let i = 0; i < workers; i++) {
    cluster.fork().on('message', (m: { ready?: boolean }) => { if (m?.ready && ++ready === workers) onReady?.(); });
  }
  let stopping = false;
  cluster.on('exit', (w, code, signal) => {
    if (stopping) return;
    console.error(`gateway worker ${w.process.pid} exited (${code ?? signal}); stopping`);
    process.exit(1);
  });
  const stop = () => {
    stopping = true;
    for (const w of Object.values(cluster.workers ?? {})) w?.process.kill('SIGTERM');
    let left = Object.keys(cluster.workers ?? {}).length;
    if (left === 0) process.exit(0);
    cluster.on('exit', () => { if (--left === 0) process.exit(0); });
  };
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  return true;
}
