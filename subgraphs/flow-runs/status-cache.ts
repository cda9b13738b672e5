// Never stale after a committed transition: writers putIfNewer(new version) right after their commit, readers
// putIfNewer(what they read) and the cache keeps an entry only when its version is higher than the cached one,
// so a late reader with an old row cannot overwrite a newer entry: a read after a commit sees it or a miss.
// run-store.ts closes the gap between commit and that put with a pending marker written before the commit.
import { Redis } from 'ioredis';

export interface CachedRun {
  version: number;
  tenantId: string;
  data: unknown;
}

export interface RunStatusCache {
  /** Callers must check `tenantId` against the caller's tenant before serving the entry. */
  get(runId: string): Promise<CachedRun | null>;
  /** Stores the entry only if it is newer than what is cached (compare version); returns whether it stored. */
  putIfNewer(runId: string, entry: CachedRun): Promise<boolean>;
  /** For runs that are gone. Not for transitions: a concurrent reader could re-fill the old version after it. */
  delete(runId: string): Promise<void>;
  close(): Promise<void>;
  readonly kind: 'redis' | 'memory';
}

export interface StatusCacheOptions {
  ttlSeconds?: number;
  maxEntries?: number;
  keyPrefix?: string;
}

function serialize(entry: CachedRun): string {
  if (!Number.isSafeInteger(entry.version) || entry.version < 0) throw new TypeError(`run status version must be a non-negative integer, got ${entry.version}`);
  return JSON.stringify({ version: entry.version, tenantId: entry.tenantId, data: entry.data });
}

/** Single-process only: other instances' writes do not reach this cache. */
class MemoryStatusCache implements RunStatusCache {
  readonly kind = 'memory' as const;
  // Map iteration order is insertion order, so re-inserting on use keeps the least recently used first.
  private readonly entries = new Map<string, { version: number; json: string; expiresAt: number }>();

  constructor(private readonly ttlMs: number, private readonly maxEntries: number) {}

  private live(runId: string) {
    const entry = this.entries.get(runId);
    if (entry && entry.expiresAt <= Date.now()) {
      this.entries.delete(runId);
      return undefined;
    }
    return entry;
  }

  async get(runId: string): Promise<CachedRun | null> {
    const entry = this.live(runId);
    if (!entry) return null;
    this.entries.delete(runId);
    this.entries.set(runId, entry);
    return JSON.parse(entry.json) as CachedRun;
  }

  async putIfNewer(runId: string, entry: CachedRun): Promise<boolean> {
    const json = serialize(entry);
    const current = this.live(runId);
    if (current && current.version >= entry.version) return false;
    this.entries.delete(runId);
    this.entries.set(runId, { version: entry.version, json, expiresAt: Date.now() + this.ttlMs });
    for (const oldest of this.entries.keys()) {
      if (this.entries.size <= this.maxEntries) break;
      this.entries.delete(oldest);
    }
    return true;
  }

  async delete(runId: string): Promise<void> {
    this.entries.delete(runId);
  }

  async close(): Promise<void> {
    this.entries.clear();
  }
}

// KEYS[1] = run key; ARGV = version, entry JSON, TTL in ms. Compare and set in one step, so it is atomic.
const PUT_IF_NEWER_LUA = `
local current = redis.call('HGET', KEYS[1], 'v')
if current and tonumber(current) >= tonumber(ARGV[1]) then return 0 end
redis.call('HSET', KEYS[1], 'v', ARGV[1], 'e', ARGV[2])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1`;

type CacheClient = Redis & { flowRunPutIfNewer(key: string, version: number, json: string, ttlMs: number): Promise<number> };

/** A cache error is a miss, never a failed request; one log line per burst of errors, one when it recovers. */
class RedisStatusCache implements RunStatusCache {
  readonly kind = 'redis' as const;
  private readonly client: CacheClient;
  private connecting?: Promise<void>;
  private failures = 0;
  private closed = false;

  constructor(url: string, private readonly ttlMs: number, private readonly keyPrefix: string) {
    this.client = new Redis(url, {
      lazyConnect: true,
      connectTimeout: 500,
      commandTimeout: 500,
      maxRetriesPerRequest: 1,
      enableOfflineQueue: false, // while disconnected, commands fail at once instead of queueing
      disconnectTimeout: 200, // close() on a dead socket otherwise leaves a 2 s timer that holds the process open
    }) as CacheClient;
    this.client.defineCommand('flowRunPutIfNewer', { numberOfKeys: 1, lua: PUT_IF_NEWER_LUA });
    this.client.on('error', (err: Error) => this.failed(err));
  }

  private failed(err: Error): void {
    if (this.failures++ === 0) console.error(`[flow-runs] status cache: redis unavailable, serving without cache: ${err.message}`);
  }

  private succeeded(): void {
    if (this.failures > 0) console.warn(`[flow-runs] status cache: redis is back after ${this.failures} errors`);
    this.failures = 0;
  }

  /** The first call waits for the first connection attempt (bounded by connectTimeout); later ones never wait. */
  private async run<T>(op: () => Promise<T>, onError: T): Promise<T> {
    if (this.closed) return onError; // connect() would reopen a closed client
    this.connecting ??= this.client.connect().catch(() => {});
    await this.connecting;
    try {
      const result = await op();
      this.succeeded();
      return result;
    } catch (err) {
      this.failed(err as Error);
      return onError;
    }
  }

  get(runId: string): Promise<CachedRun | null> {
    return this.run(async () => {
      const json = await this.client.hget(this.keyPrefix + runId, 'e');
      return json === null ? null : (JSON.parse(json) as CachedRun);
    }, null);
  }

  async putIfNewer(runId: string, entry: CachedRun): Promise<boolean> {
    const json = serialize(entry);
    return this.run(async () => (await this.client.flowRunPutIfNewer(this.keyPrefix + runId, entry.version, json, this.ttlMs)) === 1, false);
  }

  async delete(runId: string): Promise<void> {
    await this.run(async () => { await this.client.del(this.keyPrefix + runId); }, undefined);
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.client.status === 'ready') await this.client.quit().catch(() => this.client.disconnect());
    else this.client.disconnect();
  }
}

export function createStatusCache(redisUrl: string | undefined, opts: StatusCacheOptions = {}): RunStatusCache {
  const { ttlSeconds = 300, maxEntries = 10000, keyPrefix = 'flow-runs:run:' } = opts;
  if (!(ttlSeconds > 0)) throw new Error(`status cache ttlSeconds must be positive, got ${ttlSeconds}`);
  if (!Number.isInteger(maxEntries) || maxEntries <= 0) throw new Error(`status cache maxEntries must be a positive integer, got ${maxEntries}`);
  const ttlMs = Math.ceil(ttlSeconds * 1000);
  return redisUrl ? new RedisStatusCache(redisUrl, ttlMs, keyPrefix) : new MemoryStatusCache(ttlMs, maxEntries);
}
