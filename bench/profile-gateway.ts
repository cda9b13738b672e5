import 'reflect-metadata';
/**
 * Profiles one gateway on the reference workload: gateway pinned to cpu 0 under `node --cpu-prof`, subgraphs and
 * load (autocannon, 50 connections) on cpu 1. `node dist/bench/profile-gateway.js <ours|stock> [seconds] [outDir]`
 * prints the load result and the top of the profile (docs/performance.md quotes it).
 */
import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { mintJwt } from '../scripts/cli';
import { loadConfig } from '../platform/config';
import { DIST_BENCH, firstMessage, freePort, postJson, runLoadProcess, spawnNode, stopChild, waitFor } from './lib';
import { composeReference } from './reference/compose';
import { REFERENCE_BODY } from './reference/schema';
import { summarise } from './profile';

async function main() {
  const [which = 'ours', secs = '10', outDir = mkdtempSync(join(tmpdir(), 'prof-'))] = process.argv.slice(2);
  const connections = Number(process.env.CONNECTIONS ?? 50);
  mkdirSync(outDir, { recursive: true });
  const subgraphs = spawnNode(join(DIST_BENCH, 'reference', 'subgraphs.js'), ['0'], { cpus: '1' });
  const { urls } = await firstMessage<{ urls: Record<string, string> }>(subgraphs);
  const file = join(outDir, 'supergraph.graphql');
  writeFileSync(file, composeReference(urls));
  const port = await freePort();
  const token = await mintJwt(loadConfig().jwtSecret, { tenant: 'bench', sub: 'bench', ttl: 3600 });
  const headers: Record<string, string> = which === 'ours' ? { authorization: `Bearer ${token}` } : {};
  const gw = spawnNode(join(DIST_BENCH, 'gateways', `${which}.js`), [String(port), file], { cpus: '0', nodeArgs: process.env.NO_PROF ? [] : ['--cpu-prof', `--cpu-prof-dir=${outDir}`], env: { LOG_REQUESTS: '0' } });
  await firstMessage(gw);
  const url = `http://127.0.0.1:${port}/graphql`;
  await waitFor('gateway', async () => (await postJson(url, REFERENCE_BODY, headers)).status === 200);
  const r = await runLoadProcess({ mode: 'autocannon', steps: [{ url, body: REFERENCE_BODY, headers }], connections, warmupSeconds: 3, durationSeconds: Number(secs) }, '1');
  console.log(JSON.stringify(r));
  await stopChild(gw);
  await stopChild(subgraphs);
  const prof = readdirSync(outDir).find((f) => f.endsWith('.cpuprofile'));
  if (prof) { console.log(`profile: ${join(outDir, prof)}`); console.log(summarise(join(outDir, prof), Number(process.env.TOP ?? 30))); }
}

main().catch((err) => { console.error(err); process.exit(1); });
