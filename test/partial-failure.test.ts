import { randomUUID } from 'node:crypto';
import { INGEST, bearer, bootPlatform, eventually, gql, newTenant, record, tokenFor } from './harness';
import type { Platform } from '../scripts/platform';
import type { PlatformConfig } from '../platform/config';

let platform: Platform;
let config: PlatformConfig;
let url: string;

beforeAll(async () => { ({ platform, config, url } = await bootPlatform()); }, 120000);
afterAll(async () => { await platform?.stop(); });

const CROSS = `query($b: String!) { records(filter: { batchId: $b }) { edges { node { id recordId auditEvents { type } } } } }`;
const MIXED = `query($b: String!, $id: ID!) {
  records(filter: { batchId: $b }) { edges { node { id recordId } } }
  record(id: $id) { id auditEvents { type } } }`;

test('a cross-subgraph query while the audit subgraph is down: partial data, and an error naming the subgraph', async () => {
  const token = await tokenFor(config, newTenant());
  const batchId = `pf-${randomUUID()}`;
  const ingest = await gql(url, bearer(token), INGEST, { batch: { batchId, source: 's', records: [record('r1', { a: 1 })] } });
  const id = ingest.body.data.ingestRecords.results[0].id;
  // While audit is up the same query resolves across both subgraphs.
  await eventually(async () => {
    const r = await gql(url, bearer(token), CROSS, { b: batchId });
    return r.body.data?.records.edges[0]?.node.auditEvents.some((e: { type: string }) => e.type === 'RECORD_PERSISTED') ? true : undefined;
  }, 30000, 'the record’s audit events');

  const audit = platform.subgraphs.find((s) => s.name === 'audit')!;
  await audit.stop(); // closes its HTTP server (and its consumer and database)
  platform.subgraphs.splice(platform.subgraphs.indexOf(audit), 1);

  // Record.auditEvents is nullable, so the records part survives and only the audit part is null. Apollo gateway
  // reports a failed fetch without a path; the gateway names the subgraph instead of its internal address.
  const fetchError = { message: 'the audit subgraph is unavailable', extensions: { code: 'SUBGRAPH_UNAVAILABLE', service: 'audit', retryable: true } };
  const cross = await gql(url, bearer(token), CROSS, { b: batchId });
  expect(cross.status).toBe(200);
  expect(cross.body).toEqual({ data: { records: { edges: [{ node: { id, recordId: 'r1', auditEvents: null } }] } }, errors: [fetchError] });
  expect(JSON.stringify(cross.body)).not.toContain(audit.url);

  const mixed = await gql(url, bearer(token), MIXED, { b: batchId, id });
  expect(mixed.status).toBe(200);
  expect(mixed.body).toEqual({ data: { records: { edges: [{ node: { id, recordId: 'r1' } }] }, record: { id, auditEvents: null } }, errors: [fetchError] });

  const ready = await fetch(`${url}/ready`);
  expect(ready.status).toBe(503);
  expect(await ready.json()).toMatchObject({ status: 'not ready', supergraphLoaded: true, subgraphs: { records: true, audit: false } });
});
