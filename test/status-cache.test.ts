import { randomUUID } from 'node:crypto';
import { Redis } from 'ioredis';
import { createStatusCache, type RunStatusCache, type StatusCacheOptions } from '../subgraphs/flow-runs/status-cache';

const REDIS_URL = process.env.REDIS_URL;
if (process.env.CI && !REDIS_URL) throw new Error('CI must set REDIS_URL: the Redis status-cache suite may not be skipped there');
if (!REDIS_URL) console.warn('status-cache.test: REDIS_URL not set, so the suite against real Redis is SKIPPED (memory cache and the Redis-down test still run)');

const RUN_PREFIX = `flow-runs:test:${randomUUID()}:`;
const UNUSED_REDIS_URL = 'redis://127.0.0.1:6390';
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const entry = (version: number, tenantId = 't-acme') => ({ version, tenantId, data: { status: `S${version}` } });

function shuffled<T>(items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j], out[i]];
  }
  return out;
}

type Make = (opts?: StatusCacheOptions) => RunStatusCache;

function statusCacheSuite(kind: 'memory' | 'redis', make: Make) {
  const open: RunStatusCache[] = [];
  const cache = (opts?: StatusCacheOptions) => {
    const c = make(opts);
    open.push(c);
    return c;
  };
  afterEach(async () => {
    await Promise.all(open.splice(0).map((c) => c.close()));
  });

  test('kind', () => {
    expect(cache().kind).toBe(kind);
  });

  test('put then get; a miss is null; delete removes', async () => {
    const c = cache();
    expect(await c.get('run-1')).toBeNull();
    expect(await c.putIfNewer('run-1', entry(1))).toBe(true);
    expect(await c.get('run-1')).toEqual(entry(1));
    await c.delete('run-1');
    expect(await c.get('run-1')).toBeNull();
  });

  test('the tenant and the data are kept as given', async () => {
    const c = cache();
    const run = { version: 7, tenantId: 't-other', data: { status: 'RUNNING', steps: [{ name: 'a', ok: true }], note: 'é ✓' } };
    await c.putIfNewer('run-t', run);
    expect(await c.get('run-t')).toEqual(run);
  });

  test('putIfNewer refuses an older or equal version (a late reader cannot overwrite a committed transition)', async () => {
    const c = cache();
    expect(await c.putIfNewer('run-2', entry(5))).toBe(true);
    expect(await c.putIfNewer('run-2', entry(4))).toBe(false);
    expect(await c.putIfNewer('run-2', { ...entry(5), data: 'other' })).toBe(false);
    expect(await c.get('run-2')).toEqual(entry(5));
    expect(await c.putIfNewer('run-2', entry(6))).toBe(true);
    expect(await c.get('run-2')).toEqual(entry(6));
  });

  test('race: 50 concurrent putIfNewer with shuffled versions end with the highest version', async () => {
    // For Redis, two clients on the same keys stand for two service instances.
    const caches = kind === 'redis' ? [cache(), cache()] : [cache()];
    const versions = shuffled(Array.from({ length: 50 }, (_, i) => i + 1));
    const stored = await Promise.all(versions.map((v, i) => caches[i % caches.length].putIfNewer('run-race', entry(v))));
    expect(stored.filter(Boolean).length).toBeGreaterThanOrEqual(1);
    for (const c of caches) expect(await c.get('run-race')).toEqual(entry(50));
  });

  test('entries expire after the TTL', async () => {
    const c = cache({ ttlSeconds: 1 });
    await c.putIfNewer('run-ttl', entry(3));
    expect(await c.get('run-ttl')).toEqual(entry(3));
    await sleep(1300);
    expect(await c.get('run-ttl')).toBeNull();
  });

  test('an invalid version is a programming error, not a miss', async () => {
    await expect(cache().putIfNewer('run-bad', entry(1.5))).rejects.toThrow(/non-negative integer/);
  });
}

describe('status cache: memory', () => {
  statusCacheSuite('memory', (opts) => createStatusCache(undefined, opts));

  test('LRU: the least recently used entry is evicted beyond maxEntries', async () => {
    const c = createStatusCache(undefined, { maxEntries: 3 });
    for (const id of ['a', 'b', 'c']) await c.putIfNewer(id, entry(1));
    await c.get('a'); // a is now more recent than b
    await c.putIfNewer('d', entry(1));
    expect(await c.get('b')).toBeNull();
    for (const id of ['a', 'c', 'd']) expect(await c.get(id)).toEqual(entry(1));
    await c.putIfNewer('c', entry(2)); // an update counts as use too
    await c.putIfNewer('e', entry(1));
    expect(await c.get('a')).toBeNull();
    expect(await c.get('c')).toEqual(entry(2));
    await c.close();
  });
});

(REDIS_URL ? describe : describe.skip)('status cache: redis', () => {
  let n = 0;
  // Every cache of one test shares a prefix (so the race test's two clients meet); tests do not share keys.
  let testPrefix = '';
  beforeEach(() => {
    testPrefix = `${RUN_PREFIX}${++n}:`;
  });
  statusCacheSuite('redis', (opts) => createStatusCache(REDIS_URL, { keyPrefix: testPrefix, ...opts }));

  test('keys live under the prefix with the TTL set', async () => {
    const c = createStatusCache(REDIS_URL, { keyPrefix: testPrefix, ttlSeconds: 60 });
    const admin = new Redis(REDIS_URL!);
    try {
      await c.putIfNewer('run-k', entry(1));
      const ttl = await admin.pttl(`${testPrefix}run-k`);
      expect(ttl).toBeGreaterThan(55_000);
      expect(ttl).toBeLessThanOrEqual(60_000);
    } finally {
      await c.close();
      await admin.quit();
    }
  });

  afterAll(async () => {
    const admin = new Redis(REDIS_URL!);
    const keys = await admin.keys(`${RUN_PREFIX}*`);
    if (keys.length) await admin.del(...keys);
    expect(await admin.keys(`${RUN_PREFIX}*`)).toEqual([]);
    await admin.quit();
  });
});

describe('status cache: redis down', () => {
  test('get is a miss and putIfNewer false within ~1 s, no throw, one log line for the burst', async () => {
    const errors = jest.spyOn(console, 'error').mockImplementation(() => {});
    const c = createStatusCache(UNUSED_REDIS_URL, { keyPrefix: RUN_PREFIX });
    try {
      expect(c.kind).toBe('redis');
      for (let i = 0; i < 3; i++) {
        const started = Date.now();
        expect(await c.get('run-x')).toBeNull();
        expect(await c.putIfNewer('run-x', entry(1))).toBe(false);
        await expect(c.delete('run-x')).resolves.toBeUndefined();
        expect(Date.now() - started).toBeLessThan(1000);
      }
      expect(errors).toHaveBeenCalledTimes(1);
      expect(String(errors.mock.calls[0][0])).toMatch(/redis unavailable, serving without cache/);
    } finally {
      await c.close();
      errors.mockRestore();
    }
  });
});
