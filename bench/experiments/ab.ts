import 'reflect-metadata';
/**
 * A/B of gateway variants on the reference workload, pinned like the main table (gateway cpu 0, load +
 * subgraphs cpu 1), alternating rounds. `node dist/bench/experiments/ab.js <rounds> <seconds> name=ENV=VALUE[,ENV=VALUE] ...`
 * e.g. `ab.js 3 6 shipped= dedupe=BENCH_GATEWAY_MODULE=$PWD/dist/gateway/server-exp-dedupe.js`
 * A variant named stock or hive runs that gateway instead of ours.
 */
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mintJwt } from '../../scripts/cli';
import { loadConfig } from '../../platform/config';
import { REPO_ROOT } from '../../scripts/platform';
import { DIST_BENCH, firstMessage, freePort, median, postJson, runLoadProcess, spawnNode, stopChild, waitFor } from '../lib';
import { composeReference } from '../reference/compose';
import { REFERENCE_BODY } from '../reference/schema';

async function main() {
  const [roundsArg, secsArg, ...specs] = process.argv.slice(2);
  const connections = Number(process.env.CONNECTIONS ?? 50);
  const tmp = mkdtempSync(join(tmpdir(), 'ab-'));
  const subgraphs = spawnNode(join(DIST_BENCH, 'reference', 'subgraphs.js'), ['0'], { cpus: '1' });
  const { urls } = await firstMessage<{ urls: Record<string, string> }>(subgraphs);
  const file = join(tmp, 'supergraph.graphql');
  writeFileSync(file, composeReference(urls));
  const token = await mintJwt(loadConfig().jwtSecret, { tenant: 'bench', sub: 'bench', ttl: 3600 });
  const variants = specs.map((s) => {
    const [name, ...rest] = s.split('=');
    const envs = rest.join('=');
    const env: Record<string, string> = { LOG_REQUESTS: '0' };
    const nodeArgs: string[] = [];
    for (const kv of envs ? envs.split(',') : []) {
      const [k, ...v] = kv.split('=');
      if (k === 'NODEARGS') nodeArgs.push(...v.join('=').split(' ')); else env[k] = v.join('=');
    }
    return { name, env, nodeArgs, rps: [] as number[], p99: [] as number[] };
  });
  const started = [];
  for (const v of variants) {
    const port = await freePort();
    const url = `http://127.0.0.1:${port}/graphql`;
    let child;
    if (v.name === 'hive') child = spawnNode(join(REPO_ROOT, 'node_modules/@graphql-hive/gateway/dist/bin.js'), ['supergraph', file, '--port', String(port), '--host', '127.0.0.1'], { cpus: '0', env: v.env, nodeArgs: v.nodeArgs });
    else {
      child = spawnNode(join(DIST_BENCH, 'gateways', v.name === 'stock' ? 'stock.js' : 'ours.js'), [String(port), file], { cpus: '0', env: v.env, nodeArgs: v.nodeArgs });
      await firstMessage(child);
    }
    const headers: Record<string, string> = ['stock', 'hive'].includes(v.name) ? {} : { authorization: `Bearer ${token}` };
    await waitFor(v.name, async () => (await postJson(url, REFERENCE_BODY, headers)).status === 200);
    started.push({ v, child, url, headers });
  }
  for (let r = 0; r < Number(roundsArg); r++) {
    for (let i = 0; i < started.length; i++) {
      const s = started[(i + r) % started.length];
      const res = await runLoadProcess({ mode: 'autocannon', steps: [{ url: s.url, body: REFERENCE_BODY, headers: s.headers }], connections, warmupSeconds: 3, durationSeconds: Number(secsArg) }, '1');
      s.v.rps.push(res.rps); s.v.p99.push(res.p99);
      console.log(`round ${r + 1} ${s.v.name.padEnd(12)} ${res.rps} req/s p50 ${res.p50} p99 ${res.p99} errors ${res.errors + res.non2xx}`);
    }
  }
  for (const s of started) await stopChild(s.child);
  await stopChild(subgraphs);
  const base = variants[0];
  for (const v of variants) {
    const ratios = v.rps.map((x, i) => x / base.rps[i]);
    console.log(`${v.name.padEnd(12)} median ${median(v.rps)} req/s, p99 ${median(v.p99)} ms, ÷ ${base.name} ${median(ratios).toFixed(2)}×  (${v.rps.join(', ')})`);
  }
}

main().catch((err) => { console.error(err); process.exit(1); });
