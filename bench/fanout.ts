/**
 * Subscription fan-out: N WebSocket subscribers on one gateway, E run events per second; delivery latency from commit
 * (the event's `at`, the committing transaction's time) to the client, and the gateway process's memory per subscriber.
 * `node dist/bench/fanout.js [--quick]`; writes docs/benchmarks-fanout.json (the benchmark doc includes it).
 */
import 'reflect-metadata';
import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import WebSocket from 'ws';
import { mintJwt } from '../scripts/cli';
import { loadConfig } from '../platform/config';
import { REPO_ROOT } from '../scripts/platform';

const TENANTS = 20;
const config = loadConfig();

interface Round { subscribers: number; eventsPerSecond: number; seconds: number; delivered: number; expected: number; p50: number; p99: number; max: number; rssBaseMb: number; rssMb: number; kbPerSubscriber: number }

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const pct = (xs: number[], p: number) => (xs.length ? xs[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))] : NaN);

async function post(url: string, token: string, query: string, variables: unknown) {
  const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query, variables }) });
  const body = (await res.json()) as { data?: any; errors?: unknown };
  if (body.errors) throw new Error(JSON.stringify(body.errors));
  return body.data;
}

function rssMb(pid: number): number {
  const status = require('node:fs').readFileSync(`/proc/${pid}/status`, 'utf8') as string;
  return Number(/VmRSS:\s+(\d+)/.exec(status)![1]) / 1024;
}

/** Opens one graphql-ws subscriber with the bare protocol (cheaper than a full client per socket). */
function subscriber(wsUrl: string, token: string, onEvent: (at: string) => void): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(wsUrl, 'graphql-transport-ws');
    ws.on('open', () => ws.send(JSON.stringify({ type: 'connection_init', payload: { authorization: `Bearer ${token}` } })));
    ws.on('message', (raw) => {
      const m = JSON.parse(raw.toString());
      if (m.type === 'connection_ack') {
        ws.send(JSON.stringify({ id: '1', type: 'subscribe', payload: { query: 'subscription { runStatusChanged { eventId status at run { id flow { name } } } }' } }));
        resolve(ws);
      } else if (m.type === 'next' && m.payload.data) onEvent(m.payload.data.runStatusChanged.at);
      else if (m.type === 'error' || m.type === 'complete') console.error('subscriber ended:', JSON.stringify(m).slice(0, 200));
    });
    ws.on('error', reject);
  });
}

async function round(url: string, pid: number, tokens: string[], flows: string[], n: number, eps: number, seconds: number): Promise<Round> {
  const wsUrl = `${url.replace(/^http/, 'ws')}/graphql`;
  await sleep(500);
  const rssBaseMb = rssMb(pid);
  const latencies: number[] = [];
  let counting = false;
  const sockets: WebSocket[] = [];
  for (let i = 0; i < n; i += 200) {
    sockets.push(...await Promise.all(Array.from({ length: Math.min(200, n - i) }, (_, j) =>
      subscriber(wsUrl, tokens[(i + j) % TENANTS], (at) => { if (counting) latencies.push(Date.now() - Date.parse(at)); }))));
  }
  await sleep(1000);
  const rss = rssMb(pid);
  counting = true;
  let sent = 0;
  const started = Date.now();
  while (Date.now() - started < seconds * 1000) {
    const tenant = sent % TENANTS;
    await post(url, tokens[tenant], 'mutation($i: CreateRunInput!) { createRun(input: $i) { run { id } } }', { i: { flowId: flows[tenant] } });
    sent++;
    const due = started + (sent * 1000) / eps;
    if (due > Date.now()) await sleep(due - Date.now());
  }
  await sleep(2000);
  counting = false;
  for (const s of sockets) s.close();
  await sleep(500);
  latencies.sort((a, b) => a - b);
  const expected = sent * (n / TENANTS);
  return {
    subscribers: n, eventsPerSecond: eps, seconds, delivered: latencies.length, expected: Math.round(expected),
    p50: pct(latencies, 50), p99: pct(latencies, 99), max: latencies[latencies.length - 1] ?? NaN,
    rssBaseMb: Math.round(rssBaseMb), rssMb: Math.round(rss), kbPerSubscriber: Math.round(((rss - rssBaseMb) * 1024) / n * 10) / 10,
  };
}

async function main() {
  const quick = process.argv.includes('--quick');
  const sizes = quick ? [200] : [1000, 5000, 10000];
  const eps = quick ? 10 : 20;
  const seconds = quick ? 3 : 10;
  const port = 4800;
  const env = {
    ...process.env, GATEWAY_PORT: String(port), SUBGRAPH_BASE_PORT: String(port + 1), LOG_REQUESTS: '0', DATA_DIR: mkdtempSync(join(tmpdir(), 'fanout-')),
    MAX_CONNECTIONS_PER_TENANT: '100000',
  };
  // With Postgres and Kafka every component runs as its own process, so the gateway's memory is its own;
  // embedded mode has one process for everything, and its RSS moves with the databases too.
  const separate = !!(process.env.DATABASE_URL && process.env.KAFKA_BROKERS);
  const serve = (args: string[], extra: Record<string, string> = {}) =>
    spawn(process.execPath, [...args], { env: { ...env, ...extra }, stdio: ['ignore', 'ignore', 'inherit'] });
  const children = separate
    ? [serve([join(REPO_ROOT, 'dist', 'scripts', 'serve.js'), 'records']), serve([join(REPO_ROOT, 'dist', 'scripts', 'serve.js'), 'audit']),
      serve([join(REPO_ROOT, 'dist', 'scripts', 'serve.js'), 'flow-runs']), serve(['--max-semi-space-size=64', join(REPO_ROOT, 'dist', 'scripts', 'serve.js'), 'gateway'])]
    : [serve(['--max-semi-space-size=64', join(REPO_ROOT, 'dist', 'scripts', 'start.js')])];
  const url = `http://127.0.0.1:${port}`;
  const ready = async () => {
    for (let i = 0; ; i++) {
      try { if ((await fetch(`${url}/ready`)).ok) return; } catch { /* starting */ }
      if (i > 120) throw new Error('platform did not become ready');
      await sleep(500);
    }
  };
  /** A fresh gateway per round, so garbage from the previous round does not blur its memory baseline. */
  const restartGateway = async () => {
    const old = children.pop()!;
    await new Promise((r) => { old.once('exit', r); old.kill('SIGINT'); });
    children.push(serve(['--max-semi-space-size=64', join(REPO_ROOT, 'dist', 'scripts', 'serve.js'), 'gateway']));
    await ready();
  };
  try {
    await ready();
    const tokens = await Promise.all(Array.from({ length: TENANTS }, (_, t) => mintJwt(config.jwtSecret, { tenant: `fanout-${Date.now()}-${t}`, sub: 'bench', ttl: 7200 })));
    const flows: string[] = [];
    for (const token of tokens) {
      flows.push((await post(url, token, 'mutation($i: RegisterFlowInput!) { registerFlow(input: $i) { id } }', { i: { name: 'fanout', definition: { type: 'DAG', tasks: [{ id: 'a', type: 'x' }] } } })).registerFlow.id);
    }
    const rounds: Round[] = [];
    for (const [i, n] of sizes.entries()) {
      if (separate && i > 0) await restartGateway();
      const r = await round(url, children[children.length - 1].pid!, tokens, flows, n, eps, seconds);
      rounds.push(r);
      console.log(`${String(n).padStart(6)} subscribers  ${eps} events/s  delivered ${r.delivered}/${r.expected}  p50 ${r.p50} ms  p99 ${r.p99} ms  max ${r.max} ms  gateway RSS ${r.rssBaseMb}→${r.rssMb} MB (${r.kbPerSubscriber} KB/subscriber)`);
    }
    const out = { machine: `${cpus().length} × ${cpus()[0]?.model}`, node: process.version, tenants: TENANTS, database: process.env.DATABASE_URL ? 'postgres' : 'embedded', bus: process.env.KAFKA_BROKERS ? 'kafka' : 'in-process',
      memoryOf: separate ? 'the gateway process alone' : 'the one embedded process (gateway + subgraphs + databases)', rounds };
    if (!quick) writeFileSync(join(REPO_ROOT, 'docs', 'benchmarks-fanout.json'), `${JSON.stringify(out, null, 2)}\n`);
  } finally {
    await Promise.all(children.map((c) => new Promise((r) => { c.once('exit', r); c.kill('SIGINT'); })));
  }
}

main().then(() => process.exit(0), (err) => { console.error(err); process.exit(1); });
