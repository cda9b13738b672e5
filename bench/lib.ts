import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import type { LoadResult, LoadSpec } from './load';

export const DIST_BENCH = __dirname; // dist/bench when compiled

export const HAS_TASKSET = spawnSync('taskset', ['-c', '0', 'true']).status === 0;

/** Children still running; killed when this process exits, however it exits (no stray gateways or subgraphs). */
const live = new Set<ChildProcess>();
process.on('exit', () => { for (const c of live) c.kill('SIGKILL'); });
for (const sig of ['SIGINT', 'SIGTERM'] as const) process.on(sig, () => process.exit(130));

/** Spawns `node <script> ...args`, pinned to `cpus` with taskset when given; IPC channel open. */
export function spawnNode(script: string, args: string[], opts: { cpus?: string; env?: NodeJS.ProcessEnv; nodeArgs?: string[] } = {}): ChildProcess {
  const nodeArgv = [...(opts.nodeArgs ?? []), script, ...args];
  const [cmd, argv] = opts.cpus && HAS_TASKSET ? ['taskset', ['-c', opts.cpus, process.execPath, ...nodeArgv]] : [process.execPath, nodeArgv];
  const child = spawn(cmd, argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], env: { ...process.env, ...opts.env } });
  live.add(child);
  child.once('exit', () => live.delete(child));
  return child;
}

/** Resolves with the child's first IPC message (or rejects when it exits first / times out). */
export function firstMessage<T>(child: ChildProcess, timeoutMs = 120_000, what = 'child'): Promise<T> {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${what}: no message within ${timeoutMs} ms`)), timeoutMs);
    const onExit = (code: number | null) => { clearTimeout(timer); reject(new Error(`${what} exited (${code}) before answering`)); };
    child.once('exit', onExit);
    child.once('message', (m) => { clearTimeout(timer); child.off('exit', onExit); resolve(m as T); });
  });
}

export async function stopChild(child: ChildProcess | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<void> {
  if (!child || child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise<void>((res) => child.once('exit', () => res()));
  child.kill(signal);
  const t = setTimeout(() => child.kill('SIGKILL'), 5000);
  await exited;
  clearTimeout(t);
}

export { freePort } from '../platform/db';

/** Pids of a process and all its descendants (cluster workers, the process taskset exec'd into). */
export function processTree(pid: number): number[] {
  const out = [pid];
  for (let i = 0; i < out.length; i++) {
    try {
      for (const tid of readdirSync(`/proc/${out[i]}/task`)) {
        const kids = readFileSync(`/proc/${out[i]}/task/${tid}/children`, 'utf8').trim();
        if (kids) out.push(...kids.split(/\s+/).map(Number));
      }
    } catch { /* gone */ }
  }
  return out;
}

function statusKb(pid: number, field: 'VmRSS' | 'VmHWM'): number {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : 0;
  } catch {
    return 0;
  }
}

/** Peak RSS of a process tree in MB: the larger of the sampled sum of VmRSS and the sum of per-process VmHWM. */
export class RssSampler {
  peakKb = 0;
  private timer?: NodeJS.Timeout;
  constructor(private pid: number) {}
  sample(): void {
    const pids = processTree(this.pid);
    const now = pids.reduce((a, p) => a + statusKb(p, 'VmRSS'), 0);
    const hwm = pids.reduce((a, p) => a + statusKb(p, 'VmHWM'), 0);
    this.peakKb = Math.max(this.peakKb, pids.length === 1 ? hwm : now);
  }
  start(): void { this.sample(); this.timer = setInterval(() => this.sample(), 250); }
  stop(): void { if (this.timer) clearInterval(this.timer); this.sample(); }
  get peakMb(): number { return Math.round(this.peakKb / 1024); }
}

/** Runs one load in a separate process (pinned to `cpus` when given). */
export async function runLoadProcess(spec: LoadSpec, cpus?: string): Promise<LoadResult> {
  const child = spawnNode(join(DIST_BENCH, 'load.js'), [JSON.stringify(spec)], { cpus });
  const result = await firstMessage<LoadResult>(child, (spec.warmupSeconds + spec.durationSeconds) * 1000 + 60_000, 'load generator');
  await new Promise((res) => (child.exitCode !== null ? res(null) : child.once('exit', res)));
  return result;
}

export async function postJson(url: string, body: string, headers: Record<string, string> = {}): Promise<{ status: number; text: string }> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: res.status, text: await res.text() };
}

export async function waitFor(what: string, check: () => Promise<boolean>, timeoutMs = 60_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try { if (await check()) return; } catch { /* not yet */ }
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

export const median = (xs: number[]) => {
  const s = xs.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (!s.length) return NaN;
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
