import { createHash, randomBytes, randomUUID } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import { Client } from 'pg';

/** An edge API key as stored: only the SHA-256 of the secret is kept. */
export interface ApiKeyRecord {
  id: string;
  tenantId: string;
  source: string;
  hash: string;
  createdAt: string;
  revokedAt: string | null;
}

export interface ApiKeyStore {
  create(tenantId: string, source: string): Promise<{ id: string; key: string }>;
  revoke(id: string): Promise<boolean>;
  list(tenantId?: string): Promise<ApiKeyRecord[]>;
  /** The key's record when it exists and is not revoked. */
  lookup(key: string): Promise<ApiKeyRecord | null>;
  close(): Promise<void>;
}

export const hashKey = (key: string) => createHash('sha256').update(key).digest('hex');
const newKey = () => `pk_${randomBytes(24).toString('base64url')}`;

/** Postgres-backed store (schema "gateway"), used when DATABASE_URL is set so every gateway shares it. */
export class PostgresApiKeyStore implements ApiKeyStore {
  private ready?: Promise<void>;
  private client: Client;
  constructor(url: string) { this.client = new Client({ connectionString: url }); }

  private init(): Promise<void> {
    this.ready ??= (async () => {
      await this.client.connect();
      await this.client.query(`select pg_advisory_lock(hashtext('migrate:gateway'))`);
      try {
        await this.client.query(`create schema if not exists gateway;
          create table if not exists gateway.api_key (id uuid primary key, tenant_id text not null, source text not null,
            hash text not null unique, created_at timestamptz not null default now(), revoked_at timestamptz)`);
      } finally {
        await this.client.query(`select pg_advisory_unlock(hashtext('migrate:gateway'))`);
      }
    })();
    return this.ready;
  }

  private static row(r: Record<string, unknown>): ApiKeyRecord {
    return { id: r.id as string, tenantId: r.tenant_id as string, source: r.source as string, hash: r.hash as string,
      createdAt: new Date(r.created_at as string).toISOString(), revokedAt: r.revoked_at ? new Date(r.revoked_at as string).toISOString() : null };
  }

  async create(tenantId: string, source: string) {
    await this.init();
    const key = newKey();
    const id = randomUUID();
    await this.client.query('insert into gateway.api_key (id, tenant_id, source, hash) values ($1, $2, $3, $4)', [id, tenantId, source, hashKey(key)]);
    return { id, key };
  }

  async revoke(id: string) {
    await this.init();
    const r = await this.client.query('update gateway.api_key set revoked_at = now() where id = $1 and revoked_at is null', [id]);
    return (r.rowCount ?? 0) > 0;
  }

  async list(tenantId?: string) {
    await this.init();
    const r = tenantId
      ? await this.client.query('select * from gateway.api_key where tenant_id = $1 order by created_at', [tenantId])
      : await this.client.query('select * from gateway.api_key order by created_at');
    return r.rows.map(PostgresApiKeyStore.row);
  }

  async lookup(key: string) {
    await this.init();
    const r = await this.client.query('select * from gateway.api_key where hash = $1 and revoked_at is null', [hashKey(key)]);
    return r.rows[0] ? PostgresApiKeyStore.row(r.rows[0]) : null;
  }

  async close() { await this.client.end().catch(() => {}); }
}

/**
 * File-backed store for embedded mode: the CLI and a running gateway share one JSON file of hashes
 * (embedded Postgres admits one process only). Reloaded whenever the file changes.
 */
export class FileApiKeyStore implements ApiKeyStore {
  private cache: { mtimeMs: number; keys: ApiKeyRecord[] } | null = null;
  constructor(private file: string) {}

  private read(): ApiKeyRecord[] {
    if (!existsSync(this.file)) return [];
    const { mtimeMs } = statSync(this.file);
    if (this.cache?.mtimeMs !== mtimeMs) this.cache = { mtimeMs, keys: JSON.parse(readFileSync(this.file, 'utf8')) };
    return this.cache.keys;
  }

  private write(keys: ApiKeyRecord[]): void {
    mkdirSync(dirname(this.file), { recursive: true });
    const tmp = `${this.file}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(keys, null, 2));
    renameSync(tmp, this.file);
    this.cache = null;
  }

  async create(tenantId: string, source: string) {
    const key = newKey();
    const id = randomUUID();
    this.write([...this.read(), { id, tenantId, source, hash: hashKey(key), createdAt: new Date().toISOString(), revokedAt: null }]);
    return { id, key };
  }

  async revoke(id: string) {
    const keys = this.read();
    const k = keys.find((x) => x.id === id && !x.revokedAt);
    if (!k) return false;
    this.write(keys.map((x) => (x === k ? { ...x, revokedAt: new Date().toISOString() } : x)));
    return true;
  }

  async list(tenantId?: string) { return this.read().filter((k) => !tenantId || k.tenantId === tenantId); }
  async lookup(key: string) { const h = hashKey(key); return this.read().find((k) => k.hash === h && !k.revokedAt) ?? null; }
  async close() {}
}

export function openApiKeyStore(databaseUrl: string | undefined, dataDir: string): ApiKeyStore {
  return databaseUrl ? new PostgresApiKeyStore(databaseUrl) : new FileApiKeyStore(`${dataDir}/gateway/api-keys.json`);
}
