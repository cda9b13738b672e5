import 'reflect-metadata';
/**
 * `npm run bench` — every benchmark of this repo in one run, written to docs/benchmarks.md, docs/benchmarks.png
 * and docs/benchmarks.json. `npm run bench -- --quick` is the smoke variant (< 2 min, everything
 * correctness-checked, nothing written). Options (for development): --skip-reference, --skip-platform,
 * --modes pinned,both, --conns 10,50,200, --rounds N, --duration S, --warmup S, --no-write,
 * --report-from docs/benchmarks.json (re-render the doc and chart from a saved run, measuring nothing).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { REPO_ROOT } from '../scripts/platform';
import { HAS_TASKSET } from './lib';
import { runReference, type ModeSpec, type ReferenceResults } from './reference/run';
import { runPlatformWorkloads, type PlatformResults } from './platform';
import { writeReport } from './report';

function arg(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}
const flag = (name: string) => process.argv.includes(`--${name}`);

export interface BenchMeta {
  quick: boolean;
  started: string;
  wallSeconds: number;
  machine: string;
  cores: number;
  node: string;
  versions: Record<string, string>;
  taskset: boolean;
  loadAverageBefore: number[];
  command: string;
}

function version(pkg: string): string {
  try {
    // eslint-disable-next-line @typescript-eslint/no-var-requires
    return require(join(REPO_ROOT, 'node_modules', pkg, 'package.json')).version;
  } catch {
    return '?';
  }
}

async function main() {
  const from = arg('report-from');
  if (from) {
    // re-render docs/benchmarks.md + .png from a saved run's JSON (no measurement)
    await writeReport(JSON.parse(readFileSync(from, 'utf8')), join(REPO_ROOT, 'docs'));
    console.log('re-rendered docs/benchmarks.md and docs/benchmarks.png from', from);
    process.exit(0);
  }
  const quick = flag('quick');
  const t0 = Date.now();
  const log = (s: string) => console.log(`[bench ${((Date.now() - t0) / 1000).toFixed(0).padStart(4)}s] ${s}`);
  const tmp = mkdtempSync(join(tmpdir(), 'bench-'));
  const meta: BenchMeta = {
    quick, started: new Date().toISOString(), wallSeconds: 0, machine: `${cpus().length} × ${cpus()[0]?.model ?? '?'}`, cores: cpus().length, node: process.version,
    versions: Object.fromEntries(['@apollo/gateway', '@apollo/server', '@graphql-hive/gateway', '@graphql-hive/gateway-runtime', 'undici', 'autocannon', 'graphql', 'pg', '@electric-sql/pglite'].map((p) => [p, version(p)])),
    taskset: HAS_TASKSET, loadAverageBefore: (await import('node:os')).loadavg().map((x) => Math.round(x * 100) / 100),
    command: `npm run bench${quick ? ' -- --quick' : ''}`,
  };
  const conns = arg('conns')?.split(',').map(Number);
  const rounds = arg('rounds') ? Number(arg('rounds')) : undefined;
  const twoCores = cpus().length >= 2;
  const modeSpecs: ModeSpec[] = [
    { name: 'pinned', title: 'one core each: gateway pinned to cpu 0, load generator + subgraphs on cpu 1', gatewayCpus: '0', loadCpus: twoCores ? '1' : '0', workers: 1,
      connections: conns ?? (quick ? [50] : [10, 50, 200]), rounds: rounds ?? (quick ? 1 : 3), roundsAt: rounds || quick ? undefined : { 50: 6 } },
    { name: 'both', title: 'both cores: gateway unpinned (ours: 2 cluster workers, Hive: --fork 2, stock: one process), load + subgraphs on cpu 1', loadCpus: twoCores ? '1' : '0', workers: 2,
      connections: conns ?? [50, 200], rounds: rounds ?? 3, roundsAt: rounds ? undefined : { 50: 4 } },
  ];
  const wanted = (arg('modes') ?? (quick ? 'pinned' : 'pinned,both')).split(',');
  const modes = modeSpecs.filter((m) => wanted.includes(m.name));

  let reference: ReferenceResults | undefined;
  let platform: PlatformResults | undefined;
  try {
    if (!flag('skip-reference')) {
      reference = await runReference({ modes, warmupSeconds: Number(arg('warmup') ?? 2), durationSeconds: Number(arg('duration') ?? (quick ? 3 : 5)), log, tmp });
      const failed = reference.checks.filter((c) => !c.ok);
      if (failed.length) throw new Error(`wrong answers: ${JSON.stringify(failed)}`);
    }
    if (!flag('skip-platform')) platform = await runPlatformWorkloads({ quick, log, tmp, durationSeconds: Number(arg('duration') ?? (quick ? 2 : 5)) });
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
  meta.wallSeconds = Math.round((Date.now() - t0) / 1000);
  const json = { meta, reference, platform };
  if (!quick && !flag('no-write')) {
    await writeReport(json, join(REPO_ROOT, 'docs'));
    log('wrote docs/benchmarks.md, docs/benchmarks.png, docs/benchmarks.json');
  } else {
    writeFileSync(join(tmpdir(), 'bench-last.json'), JSON.stringify(json, null, 2));
    log(`results in ${join(tmpdir(), 'bench-last.json')} (docs/ untouched)`);
  }
  log(`done in ${meta.wallSeconds} s`);
  process.exit(0);
}

main().catch((err) => { console.error(err); process.exit(1); });
