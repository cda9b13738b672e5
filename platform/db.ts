import { Worker } from 'node:worker_threads';
import { createServer } from 'node:net';
import { join, resolve } from 'node:path';
import { existsSync } from 'node:fs';
import { MikroORM, type Options } from '@mikro-orm/postgresql';
import type { EntityManager } from '@mikro-orm/postgresql';

/** An ordered list of SQL migrations; the index + 1 is the version. Never edit one that has shipped. */
export type Migrations = string[];

export interface Database {
  orm: MikroORM;
  /** A fresh EntityManager fork for one unit of work. */
  em(): EntityManager;
  close(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((res, rej) => {
    const srv = createServer();
    srv.once('error', rej);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => res(port));
    });
  });
}

/** Starts embedded Postgres (PGlite) for one subgraph in a worker thread; resolves once it accepts connections. */
export async function startEmbedded(dataDir: string): Promise<{ url: string; stop(): Promise<void> }> {
  const port = await freePort();
  // Under ts-based test runners this file is .ts; the worker always runs compiled (npm run build).
  const compiled = join(__dirname, 'pglite-worker.js');
  const script = existsSync(compiled) ? compiled : join(__dirname, '..', 'dist', 'platform', 'pglite-worker.js');
  const worker = new Worker(script, { workerData: { dataDir: resolve(dataDir), port } });
  await new Promise<void>((res, rej) => {
    worker.once('message', (msg) => (msg === 'ready' ? res() : rej(new Error(`embedded postgres failed: ${msg.error}`))));
    worker.once('error', rej);
  });
  return {
    url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
    async stop() {
      const stopped = new Promise((res) => worker.once('message', res));
      worker.postMessage('stop');
      await Promise.race([stopped, new Promise((res) => setTimeout(res, 3000).unref())]);
      await worker.terminate();
    },
  };
}

async function migrate(orm: MikroORM, schema: string, migrations: Migrations): Promise<void> {
  await orm.em.fork().transactional(async (em) => {
    // Statements must run on the transaction's own connection: with a pool of one, any other would wait forever.
    const run = (sql: string) => em.getConnection().execute(sql, [], 'all', em.getTransactionContext());
    // Several processes of one subgraph may start together: one migrates, the others wait.
    await run(`select pg_advisory_xact_lock(hashtext('migrate:${schema}'))`);
    await run(`create schema if not exists "${schema}"`);
    await run(`create table if not exists "${schema}".schema_migrations (version int primary key, applied_at timestamptz not null default now())`);
    const done = new Set((await run(`select version from "${schema}".schema_migrations`)).map((r) => Number(r.version)));
    for (let i = 0; i < migrations.length; i++) {
      if (done.has(i + 1)) continue;
      await run(migrations[i]);
      await run(`insert into "${schema}".schema_migrations (version) values (${i + 1})`);
    }
  });
}

export interface DatabaseOptions {
  /** Postgres schema owned by this subgraph (also the embedded data folder's name). */
  schema: string;
  entities: Options['entities'];
  migrations: Migrations;
  databaseUrl?: string;
  dataDir: string;
}

export async function openDatabase(opts: DatabaseOptions): Promise<Database> {
  const embedded = opts.databaseUrl ? undefined : await startEmbedded(join(opts.dataDir, opts.schema));
  const orm = await MikroORM.init({
    clientUrl: opts.databaseUrl ?? embedded!.url,
    schema: opts.schema,
    entities: opts.entities,
    discovery: { disableDynamicFileAccess: true },
    // Embedded Postgres takes exactly one connection (see ARCHITECTURE.md §3).
    pool: embedded ? { min: 1, max: 1 } : { min: 1, max: 10 },
    allowGlobalContext: false,
    debug: false,
  });
  await migrate(orm, opts.schema, opts.migrations);
  return {
    orm,
    em: () => orm.em.fork(),
    async close() {
      await orm.close(true);
      await embedded?.stop();
    },
  };
}
