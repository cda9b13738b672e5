import 'reflect-metadata';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir, cpus } from 'node:os';
import { join } from 'node:path';
import { loadConfig } from '../platform/config';
import { payloadChecksum } from '../platform/jcs';
import { startPlatform, REPO_ROOT } from '../scripts/platform';
import { mintJwt } from '../scripts/cli';

/** Ingestion through the gateway: 500-record batches, 4 concurrent clients. Prints and writes docs/benchmarks.md. */
async function run(label: string, databaseUrl: string | undefined, batches: number) {
  process.env.LOG_REQUESTS = '0';
  const config = { ...loadConfig(), databaseUrl, kafkaBrokers: undefined, dataDir: mkdtempSync(join(tmpdir(), 'bench-')) };
  const platform = await startPlatform(config, 0);
  const token = await mintJwt(config.jwtSecret, { tenant: `bench-${Date.now()}`, sub: 'bench' });
  const send = async (b: number) => {
    const records = Array.from({ length: 500 }, (_, i) => {
      const payload = { seq: i, temp: 20 + (i % 10) / 10, sensor: { id: `S-${i % 50}`, ok: true } };
      return { recordId: `${label}-${b}-${i}`, userId: `u${i % 20}`, timestamp: '2026-12-01T10:00:00Z', payload, checksum: payloadChecksum(payload) };
    });
    const res = await fetch(`${platform.gateway.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
      body: JSON.stringify({ query: 'mutation($b: BatchInput!) { ingestRecords(batch: $b) { processed } }', variables: { b: { batchId: `${label}-${b}`, source: 'bench', records } } }) });
    const body = (await res.json()) as { data?: { ingestRecords?: { processed: number } } };
    if (body.data?.ingestRecords?.processed !== 500) throw new Error(`batch ${b} not fully stored: ${JSON.stringify(body).slice(0, 300)}`);
  };
  await send(-1); // warm-up
  const started = process.hrtime.bigint();
  let next = 0;
  await Promise.all(Array.from({ length: 4 }, async () => { while (next < batches) await send(next++); }));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  await platform.stop();
  return { label, batches, records: batches * 500, seconds, recordsPerSecond: Math.round((batches * 500) / seconds) };
}

async function main() {
  const quick = process.argv.includes('--quick');
  const n = quick ? 4 : 40;
  const results = [await run('embedded', undefined, n)];
  if (process.env.DATABASE_URL) results.push(await run('postgres', process.env.DATABASE_URL, n));
  for (const r of results) console.log(`${r.label.padEnd(9)} ${r.records} records in ${r.seconds.toFixed(2)} s = ${r.recordsPerSecond} records/s`);
  const doc = `# Benchmarks\n\n## Ingestion through the gateway\n\n500-record batches via \`ingestRecords\`, 4 concurrent clients, in-process bus, one process for gateway + subgraphs.\n` +
    `Machine: ${cpus().length} × ${cpus()[0]?.model}, Node ${process.version}. Command: \`DATABASE_URL=... npm run bench\`.\n\n` +
    `| database | records | seconds | records/s |\n|---|---|---|---|\n` + results.map((r) => `| ${r.label} | ${r.records} | ${r.seconds.toFixed(2)} | ${r.recordsPerSecond} |`).join('\n') + '\n';
  if (!quick) writeFileSync(join(REPO_ROOT, 'docs', 'benchmarks.md'), doc);
  process.exit(0);
}

main().catch((err) => { console.error(err); process.exit(1); });
