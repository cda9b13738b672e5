/**
 * Summarises a `.cpuprofile` (from `node --cpu-prof`): self time by function and by package.
 * `node dist/bench/profile.js <file.cpuprofile> [top]`
 */
import { readFileSync } from 'node:fs';

interface Node { id: number; callFrame: { functionName: string; url: string; lineNumber: number }; hitCount?: number; children?: number[] }
interface Profile { nodes: Node[]; samples: number[]; timeDeltas: number[] }

export function packageOf(url: string): string {
  if (!url) return '(native / gc / idle)';
  const m = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (m) return m[1];
  if (url.startsWith('node:')) return 'node core';
  const d = /\/dist\/([^/]+)\//.exec(url);
  return d ? `repo ${d[1]}/` : url;
}

export function summarise(file: string, top = 25): string {
  const p = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(p.nodes.map((n) => [n.id, n]));
  const self = new Map<number, number>();
  for (let i = 0; i < p.samples.length; i++) self.set(p.samples[i], (self.get(p.samples[i]) ?? 0) + (p.timeDeltas[i] ?? 0));
  const total = [...self.values()].reduce((a, b) => a + b, 0);
  const fn = new Map<string, number>();
  const pkg = new Map<string, number>();
  for (const [id, t] of self) {
    const n = byId.get(id)!;
    const name = n.callFrame.functionName || '(anonymous)';
    const where = n.callFrame.url ? `${packageOf(n.callFrame.url)} ${n.callFrame.url.split('/').pop()}:${n.callFrame.lineNumber + 1}` : '';
    const key = `${name} ${where}`.trim();
    fn.set(key, (fn.get(key) ?? 0) + t);
    const k = ['(idle)', '(program)', '(garbage collector)'].includes(name) ? name : packageOf(n.callFrame.url);
    pkg.set(k, (pkg.get(k) ?? 0) + t);
  }
  const pct = (t: number) => `${((100 * t) / total).toFixed(1)}%`;
  const rows = (m: Map<string, number>) => [...m].sort((a, b) => b[1] - a[1]).slice(0, top).map(([k, t]) => `| ${pct(t)} | \`${k.replace(/\|/g, '\\|')}\` |`);
  return [`Total sampled: ${(total / 1e6).toFixed(1)} s`, '', '| self | package |', '|---:|---|', ...rows(pkg), '', '| self | function |', '|---:|---|', ...rows(fn)].join('\n');
}

if (require.main === module) console.log(summarise(process.argv[2], Number(process.argv[3] ?? 25)));
