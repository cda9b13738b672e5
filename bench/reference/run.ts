/**
 * Side-by-side runs of the reference workload: ours, stock @apollo/gateway and @graphql-hive/gateway against
 * the same subgraph process, one gateway loaded at a time, in alternating order round after round.
 */
import { GATEWAY_NODE_FLAGS } from '../../gateway/cluster';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { isDeepStrictEqual } from 'node:util';
import type { ChildProcess } from 'node:child_process';
import { mintJwt } from '../../scripts/cli';
import { loadConfig } from '../../platform/config';
import { REPO_ROOT } from '../../scripts/platform';
import type { LoadResult } from '../load';
import { DIST_BENCH, RssSampler, firstMessage, freePort, median, postJson, runLoadProcess, spawnNode, stopChild, waitFor } from '../lib';
import { composeReference } from './compose';
import { REFERENCE_BODY, expectedResult } from './schema';

export type GatewayName = 'ours' | 'stock' | 'hive';
export const GATEWAYS: GatewayName[] = ['ours', 'stock', 'hive'];

export interface ModeSpec {
  name: 'pinned' | 'both';
  title: string;
  /** cpus the gateway runs on (taskset), undefined = unpinned */
  gatewayCpus?: string;
  /** cpus of the load generator */
  loadCpus?: string;
  workers: number;
  connections: number[];
  rounds: number;
  /** more rounds at some connection counts (the target is quoted at 50) */
  roundsAt?: Record<number, number>;
}

export interface RunRow extends LoadResult { mode: string; gateway: GatewayName; connections: number; round: number; loadAverage: number }
export interface Summary {
  mode: string; gateway: GatewayName; connections: number; rounds: number;
  rps: number; p50: number; p95: number; p99: number; errors: number; peakRssMb: number;
  /** median over rounds of ours/this (pair by pair within a round) */
  oursRatio?: number;
}
export interface ReferenceResults {
  modes: ModeSpec[];
  runs: RunRow[];
  summaries: Summary[];
  checks: { mode: string; gateway: GatewayName; when: string; ok: boolean; detail?: string }[];
  subgraphFetchesPerQuery?: number;
  warmupSeconds: number;
  durationSeconds: number;
  hiveCommand: string;
}

const HIVE_BIN = join(REPO_ROOT, 'node_modules', '@graphql-hive', 'gateway', 'dist', 'bin.js');

interface Started { name: GatewayName; child: ChildProcess; url: string; headers: Record<string, string>; rss: RssSampler; expect?: string }

async function startGateway(name: GatewayName, mode: ModeSpec, supergraph: string, token: string): Promise<Started> {
  const port = await freePort();
  const url = `http://127.0.0.1:${port}/graphql`;
  let child: ChildProcess;
  let headers: Record<string, string> = {};
  if (name === 'ours') {
    // As shipped: the gateway's V8 flags (npm start, compose and cluster workers run with them).
    child = spawnNode(join(DIST_BENCH, 'gateways', 'ours.js'), [String(port), supergraph, String(mode.workers)], { cpus: mode.gatewayCpus, env: { LOG_REQUESTS: '0' }, nodeArgs: GATEWAY_NODE_FLAGS });
    await firstMessage(child, 120_000, 'our gateway');
    headers = { authorization: `Bearer ${token}` };
  } else if (name === 'stock') {
    child = spawnNode(join(DIST_BENCH, 'gateways', 'stock.js'), [String(port), supergraph], { cpus: mode.gatewayCpus });
    await firstMessage(child, 120_000, 'stock gateway');
  } else {
    const args = ['supergraph', supergraph, '--port', String(port), '--host', '127.0.0.1', ...(mode.workers > 1 ? ['--fork', String(mode.workers)] : [])];
    child = spawnNode(HIVE_BIN, args, { cpus: mode.gatewayCpus });
  }
  await waitFor(`${name} gateway to answer`, async () => (await postJson(url, REFERENCE_BODY, headers)).status === 200, 120_000);
  const rss = new RssSampler(child.pid!);
  rss.start();
  return { name, child, url, headers, rss };
}

/** Checks the gateway's answer against the expected JSON; keeps the exact body for per-response checks under load. */
async function check(g: Started): Promise<{ ok: boolean; detail?: string }> {
  const r = await postJson(g.url, REFERENCE_BODY, g.headers);
  let ok = r.status === 200;
  let detail: string | undefined;
  try {
    ok = ok && isDeepStrictEqual(JSON.parse(r.text), expectedResult());
  } catch (err) {
    ok = false;
    detail = (err as Error).message;
  }
  if (!ok) detail ??= `status ${r.status}: ${r.text.slice(0, 300)}`;
  else g.expect ??= r.text;
  if (ok && g.expect !== r.text) { ok = false; detail = 'answer changed between checks'; }
  return { ok, detail };
}

export async function runReference(opts: { modes: ModeSpec[]; warmupSeconds: number; durationSeconds: number; log: (s: string) => void; tmp: string }): Promise<ReferenceResults> {
  const { log } = opts;
  // The subgraph process shares the load core with the load generator; the gateway core stays for the gateway.
  const subgraphs = spawnNode(join(DIST_BENCH, 'reference', 'subgraphs.js'), ['0'], { cpus: opts.modes[0].loadCpus });
  const results: ReferenceResults = { modes: opts.modes, runs: [], summaries: [], checks: [], warmupSeconds: opts.warmupSeconds, durationSeconds: opts.durationSeconds,
    hiveCommand: `node node_modules/@graphql-hive/gateway/dist/bin.js supergraph <file> --port <p> --host 127.0.0.1 [--fork 2]` };
  try {
    const { urls } = await firstMessage<{ urls: Record<string, string> }>(subgraphs, 60_000, 'reference subgraphs');
    const supergraph = join(opts.tmp, 'reference-supergraph.graphql');
    writeFileSync(supergraph, composeReference(urls));
    const token = await mintJwt(loadConfig().jwtSecret, { tenant: 'bench', sub: 'bench', ttl: 24 * 3600 });

    for (const mode of opts.modes) {
      log(`reference workload, ${mode.title}`);
      const started: Started[] = [];
      try {
        for (const name of GATEWAYS) started.push(await startGateway(name, mode, supergraph, token));
        for (const g of started) {
          const c = await check(g);
          results.checks.push({ mode: mode.name, gateway: g.name, when: 'before load', ...c });
          if (!c.ok) throw new Error(`${g.name} answered wrongly before the load: ${c.detail}`);
        }
        for (const connections of mode.connections) {
          for (let round = 0; round < (mode.roundsAt?.[connections] ?? mode.rounds); round++) {
            // alternate the order every round (rotate), so no gateway always runs first or last
            const order = started.map((_, i) => started[(i + round) % started.length]);
            for (const g of order) {
              const loadAverage = Math.round(loadavg()[0] * 100) / 100;
              const r = await runLoadProcess({ mode: 'autocannon', steps: [{ url: g.url, body: REFERENCE_BODY, headers: g.headers, expect: g.expect }], connections,
                warmupSeconds: opts.warmupSeconds, durationSeconds: opts.durationSeconds }, mode.loadCpus);
              results.runs.push({ mode: mode.name, gateway: g.name, connections, round, loadAverage, ...r });
              log(`  ${mode.name} c=${String(connections).padStart(3)} round ${round + 1} ${g.name.padEnd(5)} ${String(r.rps).padStart(6)} req/s  p50 ${r.p50} p99 ${r.p99} ms  errors ${r.errors + r.non2xx + r.mismatches}`);
              const c = await check(g);
              results.checks.push({ mode: mode.name, gateway: g.name, when: `after load c=${connections} round ${round + 1}`, ...c });
              if (!c.ok) throw new Error(`${g.name} answered wrongly after the load: ${c.detail}`);
            }
          }
        }
      } finally {
        for (const g of started) { g.rss.stop(); await stopChild(g.child); }
      }
      for (const connections of mode.connections) {
        const mine = (gw: GatewayName) => results.runs.filter((r) => r.mode === mode.name && r.connections === connections && r.gateway === gw);
        for (const g of started) {
          const rows = mine(g.name);
          const ours = mine('ours');
          const ratios = rows.map((r) => { const o = ours.find((x) => x.round === r.round); return o ? o.rps / r.rps : NaN; });
          results.summaries.push({
            mode: mode.name, gateway: g.name, connections, rounds: rows.length,
            rps: Math.round(median(rows.map((r) => r.rps))), p50: median(rows.map((r) => r.p50)), p95: median(rows.map((r) => r.p95)), p99: median(rows.map((r) => r.p99)),
            errors: rows.reduce((a, r) => a + r.errors + r.non2xx + r.mismatches, 0), peakRssMb: g.rss.peakMb,
            oursRatio: g.name === 'ours' ? undefined : Math.round(median(ratios) * 100) / 100,
          });
        }
      }
    }
  } finally {
    await stopChild(subgraphs);
  }
  return results;
}
