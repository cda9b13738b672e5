import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, renameSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'graphql';
import { composeServices } from '@apollo/composition';
import { printSubgraphSchema } from '@apollo/subgraph';
import { jwtVerify } from 'jose';
import { bearer, bootPlatform, eventually, gql, newTenant, REAL_DB, testConfig, tokenFor } from './harness';
import { buildFederatedSchema, type SubgraphDefinition } from '../platform/subgraph-server';
import { createBus } from '../platform/bus';
import { definition as recordsDef, startRecords } from '../subgraphs/records/server';
import { definition as auditDef, startAudit } from '../subgraphs/audit/server';
import { startGateway } from '../gateway/server';
import type { EventBus } from '../platform/event-bus';

async function supergraphOf(defs: SubgraphDefinition[]): Promise<string> {
  const services = await Promise.all(defs.map(async (d) => ({
    name: d.name, url: `http://127.0.0.1/${d.name}`, typeDefs: parse(printSubgraphSchema(await buildFederatedSchema(d))),
  })));
  const result = composeServices(services);
  if (result.errors?.length) throw new Error(result.errors.map((e) => e.message).join('\n'));
  return result.supergraphSdl!;
}

/** Replaces the file in one step, so the gateway's watcher never reads half a file. */
function replaceFile(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

describe('the gateway reloads its supergraph file', () => {
  let bus: EventBus;
  const stops: (() => Promise<void>)[] = [];
  let url: string;
  let token: string;
  let file: string;
  let recordsOnly: string;
  let full: string;

  beforeAll(async () => {
    const config = testConfig();
    [recordsOnly, full] = [await supergraphOf([recordsDef]), await supergraphOf([recordsDef, auditDef])];
    file = join(mkdtempSync(join(tmpdir(), 'supergraph-')), 'supergraph.graphql');
    replaceFile(file, recordsOnly);
    bus = createBus(config, `reload-test-${process.pid}`);
    stops.push(() => bus.close());
    const records = await startRecords(config, bus);
    stops.unshift(() => records.stop());
    const audit = await startAudit(config, bus);
    stops.unshift(() => audit.stop());
    const gateway = await startGateway({ config, port: 0, supergraphPath: file });
    stops.unshift(() => gateway.stop());
    url = gateway.url;
    token = await tokenFor(config, newTenant());
  }, 120000);
  afterAll(async () => { for (const stop of stops) await stop(); });

  const AUDIT = `{ auditEvents(first: 1) { edges { node { id } } } }`;
  const auditQueryWorks = async () => {
    const r = await gql(url, bearer(token), AUDIT);
    return r.status === 200 && r.body.data?.auditEvents ? true : undefined;
  };

  test('records-only supergraph → full supergraph → broken file keeps the last good schema', async () => {
    const before = await gql(url, bearer(token), AUDIT);
    expect(before.status).toBe(400);
    expect(before.body.errors[0].extensions.code).toBe('GRAPHQL_VALIDATION_FAILED');
    const records = await gql(url, bearer(token), `{ records(first: 1) { edges { node { id } } } }`);
    expect(records.body).toEqual({ data: { records: { edges: [] } } });
    const ready = await fetch(`${url}/ready`);
    expect(await ready.json()).toMatchObject({ supergraphLoaded: true, subgraphs: { records: true, audit: true } });

    replaceFile(file, full);
    await eventually(auditQueryWorks, 15000, 'auditEvents after the reload');

    // Watch the gateway's own log to know it has read the broken file (rather than sleeping and hoping).
    const logged: string[] = [];
    const spy = jest.spyOn(console, 'log').mockImplementation((line: unknown) => { logged.push(String(line)); });
    process.env.LOG_REQUESTS = '1';
    try {
      replaceFile(file, 'this is not a supergraph {');
      await eventually(async () => (logged.some((l) => l.includes('"supergraph_reload_failed"')) ? true : undefined), 15000, 'the failed reload');
    } finally {
      process.env.LOG_REQUESTS = '0';
      spy.mockRestore();
    }
    expect(await auditQueryWorks()).toBe(true);

    // The watcher still works after the failed reload.
    replaceFile(file, recordsOnly);
    await eventually(async () => ((await auditQueryWorks()) ? undefined : true), 15000, 'auditEvents to disappear again');
  });
});

const CLI = join(__dirname, '..', 'dist', 'scripts', 'cli.js');

function cli(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  const childEnv: NodeJS.ProcessEnv = { ...process.env, ...env };
  if (!env.DATABASE_URL) delete childEnv.DATABASE_URL;
  return new Promise((res) => {
    execFile(process.execPath, [CLI, ...args], { env: childEnv }, (err, stdout, stderr) => {
      res({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout, stderr });
    });
  });
}

type Store = [name: string, env: (dataDir: string) => Record<string, string>];
const stores: Store[] = [['file key store', (dataDir) => ({ DATA_DIR: dataDir })]];
if (REAL_DB) stores.push(['Postgres key store', (dataDir) => ({ DATA_DIR: dataDir, DATABASE_URL: process.env.DATABASE_URL! })]);
else console.warn('reload-cli.test: DATABASE_URL not set; the CLI runs against the file key store only');

describe('the CLI, as a child process', () => {
  beforeAll(() => {
    if (!existsSync(CLI)) throw new Error(`${CLI} missing: run npm run build (npm test does)`);
  });

  test.each(stores)('%s: create-key, list-keys, revoke-key, usage errors', async (_, envFor) => {
    const env = envFor(mkdtempSync(join(tmpdir(), 'cli-')));
    const tenant = newTenant();
    const created = await cli(['create-key', '--tenant', tenant, '--source', 'edge-9'], env);
    expect(created).toMatchObject({ code: 0 });
    const { id, key } = JSON.parse(created.stdout);
    expect(id).toMatch(/^[0-9a-f-]{36}$/);
    expect(key).toMatch(/^pk_/);

    const listed = await cli(['list-keys', '--tenant', tenant], env);
    expect(listed.code).toBe(0);
    expect(listed.stdout.trim().split('\n').map((l) => JSON.parse(l))).toEqual([expect.objectContaining({ id, tenantId: tenant, source: 'edge-9', revokedAt: null })]);
    expect(listed.stdout).not.toContain(key);

    expect(await cli(['revoke-key', '--id', id], env)).toMatchObject({ code: 0, stdout: 'revoked\n' });
    expect(await cli(['revoke-key', '--id', id], env)).toMatchObject({ code: 1, stdout: 'no such active key\n' });

    for (const args of [['create-key', '--tenant', tenant], ['revoke-key'], ['mint-jwt', '--tenant', tenant]]) {
      const r = await cli(args, env);
      expect(r.code).toBe(2);
      expect(r.stderr).toMatch(/is required\nusage:/);
    }
  });

  test('mint-jwt prints an HS256 token for the tenant and user, valid for an hour, signed with JWT_SECRET', async () => {
    const secret = `cli-test-${newTenant()}`;
    const tenant = newTenant();
    const r = await cli(['mint-jwt', '--tenant', tenant, '--sub', 'dora'], { DATA_DIR: mkdtempSync(join(tmpdir(), 'cli-')), JWT_SECRET: secret });
    expect(r.code).toBe(0);
    const { payload, protectedHeader } = await jwtVerify(r.stdout.trim(), new TextEncoder().encode(secret));
    expect(protectedHeader.alg).toBe('HS256');
    expect(payload).toMatchObject({ tenant_id: tenant, sub: 'dora' });
    expect(Math.abs(payload.exp! - (Date.now() / 1000 + 3600))).toBeLessThan(60);
  });

  test('a key made by the CLI authenticates at a running gateway until the CLI revokes it', async () => {
    const { platform, config, url } = await bootPlatform();
    try {
      // Embedded mode: the gateway reads ${dataDir}/gateway/api-keys.json; with DATABASE_URL both use Postgres.
      const env: Record<string, string> = { DATA_DIR: config.dataDir, ...(config.databaseUrl ? { DATABASE_URL: config.databaseUrl } : {}) };
      const tenant = newTenant();
      const created = await cli(['create-key', '--tenant', tenant, '--source', 'edge-cli'], env);
      expect(created.code).toBe(0);
      const { id, key } = JSON.parse(created.stdout);
      const ingest = () => fetch(`${url}/api/v1/data_ingestion`, {
        method: 'POST', headers: { 'x-api-key': key, 'content-type': 'application/json' },
        body: JSON.stringify({ user_id: 'u1', timestamp: '2026-12-01T00:00:00Z', data_payload: { v: 1 } }),
      });
      const ok = await ingest();
      expect(ok.status).toBe(201);
      const { id: recordId } = (await ok.json()) as { id: string };
      const seen = await gql(url, bearer(await tokenFor(config, tenant)), `query($id: ID!) { record(id: $id) { source userId } }`, { id: recordId });
      expect(seen.body.data.record).toEqual({ source: 'edge-cli', userId: 'u1' });

      expect(await cli(['revoke-key', '--id', id], env)).toMatchObject({ code: 0 });
      const refused = await ingest();
      expect(refused.status).toBe(401);
      expect(await refused.json()).toMatchObject({ error: 'UNAUTHENTICATED' });
    } finally {
      await platform.stop();
    }
  }, 120000);
});
