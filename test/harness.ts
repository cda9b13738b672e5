import 'reflect-metadata';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { randomUUID } from 'node:crypto';
import { Client } from 'pg';
import { loadConfig, type PlatformConfig } from '../platform/config';
import { payloadChecksum } from '../platform/jcs';
import { startPlatform, type Platform } from '../scripts/platform';
import { mintJwt } from '../scripts/cli';

/**
 * Integration tests use DATABASE_URL / KAFKA_BROKERS when set (CI sets both and .ci/run fails if either
 * is missing); without them they run on embedded Postgres and the in-process bus, and say so.
 */
export const REAL_DB = !!process.env.DATABASE_URL;
export const REAL_KAFKA = !!process.env.KAFKA_BROKERS;
if (process.env.CI && (!REAL_DB || !REAL_KAFKA)) throw new Error('CI must set DATABASE_URL and KAFKA_BROKERS: no integration suite may be skipped there');

export function testConfig(overrides: Partial<PlatformConfig> = {}): PlatformConfig {
  process.env.SUBGRAPH_BASE_PORT ??= '4101';
  process.env.LOG_REQUESTS = '0';
  const base = loadConfig();
  return { ...base, dataDir: REAL_DB ? base.dataDir : mkdtempSync(join(tmpdir(), 'platform-test-')), ...overrides };
}

export async function bootPlatform(overrides: Partial<PlatformConfig> = {}, supergraphPath?: string): Promise<{ platform: Platform; config: PlatformConfig; url: string }> {
  const config = testConfig(overrides);
  const platform = await startPlatform(config, 0, supergraphPath);
  return { platform, config, url: platform.gateway.url };
}

export const newTenant = () => `t-${randomUUID().slice(0, 8)}`;

export async function tokenFor(config: PlatformConfig, tenant: string, sub = 'alice', ttl = 600): Promise<string> {
  return mintJwt(config.jwtSecret, { tenant, sub, ttl });
}

export interface GqlResponse { status: number; body: any; headers: Headers }

export async function gql(url: string, auth: Record<string, string>, query: string, variables: Record<string, unknown> = {}): Promise<GqlResponse> {
  const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify({ query, variables }) });
  return { status: res.status, body: await res.json(), headers: res.headers };
}

export const bearer = (token: string) => ({ authorization: `Bearer ${token}` });

export function record(recordId: string, payload: unknown, extra: Record<string, unknown> = {}) {
  return { recordId, userId: 'user-1', timestamp: '2026-12-01T10:00:00Z', payload, checksum: payloadChecksum(payload), ...extra };
}

export const INGEST = `mutation($batch: BatchInput!) { ingestRecords(batch: $batch) {
  batchId processed duplicates rejected results { recordId status id code message } } }`;

/** Polls until `check` returns a value (not undefined) or the deadline passes. */
export async function eventually<T>(check: () => Promise<T | undefined>, timeoutMs = 20000, what = 'condition'): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

/** Direct SQL against the database the platform uses (real Postgres only). */
export async function sql<T = any>(text: string, params: unknown[] = []): Promise<T[]> {
  const c = new Client({ connectionString: process.env.DATABASE_URL });
  await c.connect();
  try {
    return (await c.query(text, params)).rows as T[];
  } finally {
    await c.end();
  }
}

export const AUDIT_BY_CORRELATION = `query($c: String!) { auditEvents(filter: { correlationId: $c }, first: 1000) { edges { node { id type subject hash prevHash } } } }`;

/** Reads a topic from the beginning with a fresh consumer group until `done` holds (real Kafka when configured). */
export async function collectTopic(platform: Platform, topic: string, done: (values: any[]) => boolean, timeoutMs = 30000): Promise<any[]> {
  const values: any[] = [];
  let resolve!: () => void;
  const finished = new Promise<void>((res) => { resolve = res; });
  const stop = await platform.bus.subscribe(topic, `test-${randomUUID()}`, async (msg) => {
    values.push({ key: msg.key, ...JSON.parse(msg.value) });
    if (done(values)) resolve();
  });
  try {
    await Promise.race([finished, new Promise((_, rej) => setTimeout(() => rej(new Error(`timed out reading ${topic}: ${values.length} messages seen`)), timeoutMs))]);
    return values;
  } finally {
    await stop();
  }
}

/** Publishes as an outside producer would: a plain kafkajs producer on real Kafka, the platform's bus otherwise. */
export async function publishTopic(platform: Platform, topic: string, key: string, value: unknown): Promise<void> {
  if (!REAL_KAFKA) return platform.bus.publish([{ topic, key, value: JSON.stringify(value) }]);
  const { Kafka, logLevel } = await import('kafkajs');
  const producer = new Kafka({ clientId: 'test-orchestrator', brokers: process.env.KAFKA_BROKERS!.split(','), logLevel: logLevel.NOTHING }).producer();
  await producer.connect();
  try {
    await producer.send({ topic, messages: [{ key, value: JSON.stringify(value) }] });
  } finally {
    await producer.disconnect();
  }
}

export const DAG = (tasks: Array<Record<string, unknown>>) => ({ type: 'DAG', tasks });

export const REGISTER_FLOW = `mutation($input: RegisterFlowInput!) { registerFlow(input: $input) { id name latestVersion { version } } }`;
export const CREATE_RUN = `mutation($input: CreateRunInput!) { createRun(input: $input) { correlationId created run { id status flowVersion attempts } } }`;
export const REPORT = `mutation($input: RunStatusReportInput!) { reportRunStatus(input: $input) { id status attempts output error } }`;

/** Registers a small valid flow for the token's tenant and returns its id. */
export async function registerFlow(url: string, token: string, name = `flow-${randomUUID().slice(0, 8)}`, definition: unknown = DAG([{ id: 'fetch', type: 'http' }, { id: 'summarize', type: 'llm', dependsOn: ['fetch'] }])): Promise<string> {
  const r = await gql(url, bearer(token), REGISTER_FLOW, { input: { name, definition } });
  if (r.body.errors) throw new Error(JSON.stringify(r.body.errors));
  return r.body.data.registerFlow.id;
}

/** A graphql-ws client on the gateway (or a subgraph) that records how its socket closed. */
export function wsClient(httpUrl: string, connectionParams: Record<string, unknown>, lazy = true) {
  // Loaded lazily so suites that never open a socket do not pay for it.
  const { createClient } = require('graphql-ws') as typeof import('graphql-ws');
  const WebSocket = require('ws');
  const closed: { code?: number; reason?: string } = {};
  const client = createClient({
    url: `${httpUrl.replace(/^http/, 'ws')}/graphql`, webSocketImpl: WebSocket, lazy, retryAttempts: 0, connectionParams,
    on: { closed: (e: any) => { closed.code = e?.code; closed.reason = e?.reason?.toString(); } },
  });
  return { client, closed };
}

/** Subscribes and collects every result until `until` says stop (or the stream ends); resolves with all results. */
export function collect(client: import('graphql-ws').Client, query: string, variables: Record<string, unknown> = {}, until: (results: any[]) => boolean = () => false) {
  const results: any[] = [];
  let finish!: (v: { results: any[]; error?: unknown }) => void;
  const done = new Promise<{ results: any[]; error?: unknown }>((res) => { finish = res; });
  const dispose = client.subscribe({ query, variables }, {
    next: (r) => { results.push(r); if (until(results)) { dispose(); finish({ results }); } },
    error: (error) => finish({ results, error }),
    complete: () => finish({ results }),
  });
  return { results, done, dispose };
}
