/**
 * The load generator, always run as its own process (the harness pins it to the load core). Two modes:
 *  - `autocannon`: one URL, one POST body, N connections; every response body is compared with the
 *    expected one (`expectBody`, a mismatch counts as an error);
 *  - `sequence`: a closed loop over undici where one iteration is several POSTs in order (the "same data
 *    fetched directly from the subgraphs" workload), N concurrent loops.
 * Each run: warm-up (discarded), then a fixed duration. Latency percentiles are exact (every response's
 * time is kept). Input: JSON in argv[2]; output: JSON over IPC (or stdout).
 */
// autocannon ships no type declarations
// eslint-disable-next-line @typescript-eslint/no-var-requires
const autocannon: (opts: Record<string, unknown>) => Promise<any> & { on(event: string, fn: (...args: any[]) => void): void } = require('autocannon');
import { Pool } from 'undici';

export interface Step { url: string; body: string; headers: Record<string, string>; expect?: string }
export interface LoadSpec {
  mode: 'autocannon' | 'sequence';
  steps: Step[];
  /** sequence mode: loop i runs variants[i % variants.length] instead of `steps` (distinct work per connection) */
  variants?: Step[][];
  connections: number;
  warmupSeconds: number;
  durationSeconds: number;
}
export interface LoadResult {
  requests: number;
  seconds: number;
  rps: number;
  errors: number;
  non2xx: number;
  mismatches: number;
  p50: number; p95: number; p99: number; max: number;
}

function percentiles(lat: number[], seconds: number, ok: number, errors: number, non2xx: number, mismatches: number): LoadResult {
  const s = Float64Array.from(lat).sort();
  const at = (q: number) => (s.length ? s[Math.min(s.length - 1, Math.floor(q * s.length))] : NaN);
  const r2 = (x: number) => Math.round(x * 100) / 100;
  return { requests: ok, seconds: r2(seconds), rps: Math.round(ok / seconds), errors, non2xx, mismatches, p50: r2(at(0.5)), p95: r2(at(0.95)), p99: r2(at(0.99)), max: r2(s[s.length - 1] ?? NaN) };
}

async function cannon(spec: LoadSpec, seconds: number, record: boolean): Promise<LoadResult> {
  const step = spec.steps[0];
  const lat: number[] = [];
  let ok = 0;
  const started = process.hrtime.bigint();
  const instance = autocannon({
    url: step.url, method: 'POST', headers: { 'content-type': 'application/json', ...step.headers }, body: step.body,
    connections: spec.connections, duration: seconds, pipelining: 1, timeout: 10,
    ...(step.expect ? { expectBody: step.expect } : {}),
  });
  instance.on('response', (_client: unknown, status: number, _bytes: number, ms: number) => {
    if (status >= 200 && status < 300) ok++;
    if (record) lat.push(ms);
  });
  const r = await instance;
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  const mismatches: number = r.mismatches ?? 0;
  return percentiles(lat, elapsed, Math.max(0, ok - mismatches), r.errors + r.timeouts, r.non2xx, mismatches);
}

async function sequence(spec: LoadSpec, seconds: number, record: boolean): Promise<LoadResult> {
  const pools = new Map<string, Pool>();
  for (const s of [...spec.steps, ...(spec.variants ?? []).flat()]) {
    const origin = new URL(s.url).origin;
    if (!pools.has(origin)) pools.set(origin, new Pool(origin, { connections: spec.connections, keepAliveTimeout: 60_000 }));
  }
  const lat: number[] = [];
  let ok = 0, errors = 0, non2xx = 0, mismatches = 0;
  const deadline = Date.now() + seconds * 1000;
  const started = process.hrtime.bigint();
  await Promise.all(Array.from({ length: spec.connections }, async (_, loop) => {
    const steps = spec.variants?.length ? spec.variants[loop % spec.variants.length] : spec.steps;
    while (Date.now() < deadline) {
      const t0 = process.hrtime.bigint();
      let good = true;
      for (const s of steps) {
        const u = new URL(s.url);
        try {
          const res = await pools.get(u.origin)!.request({ path: u.pathname, method: 'POST', headers: { 'content-type': 'application/json', ...s.headers }, body: s.body });
          const text = await res.body.text();
          if (res.statusCode < 200 || res.statusCode >= 300) { non2xx++; good = false; break; }
          if (s.expect && text !== s.expect) { mismatches++; good = false; break; }
        } catch {
          errors++; good = false; break;
        }
      }
      if (good) {
        ok++;
        if (record) lat.push(Number(process.hrtime.bigint() - t0) / 1e6);
      }
    }
  }));
  const elapsed = Number(process.hrtime.bigint() - started) / 1e9;
  await Promise.all([...pools.values()].map((p) => p.close()));
  return percentiles(lat, elapsed, ok, errors, non2xx, mismatches);
}

export async function runLoad(spec: LoadSpec): Promise<LoadResult> {
  const go = spec.mode === 'autocannon' ? cannon : sequence;
  if (spec.warmupSeconds > 0) await go(spec, spec.warmupSeconds, false);
  return go(spec, spec.durationSeconds, true);
}

if (require.main === module) {
  const spec = JSON.parse(process.argv[2]) as LoadSpec;
  runLoad(spec).then((r) => {
    if (process.send) process.send(r, () => process.exit(0));
    else { console.log(JSON.stringify(r)); process.exit(0); }
  }).catch((err) => { console.error(err); process.exit(1); });
}
