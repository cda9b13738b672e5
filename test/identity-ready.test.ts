import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SignJWT, exportJWK, generateKeyPair } from 'jose';
import { bearer, bootPlatform, gql, newTenant } from './harness';
import type { Platform } from '../scripts/platform';

let platform: Platform;
let url: string;
let privateKey: CryptoKey;
let otherKey: CryptoKey;

beforeAll(async () => {
  const pair = await generateKeyPair('RS256');
  privateKey = pair.privateKey as CryptoKey;
  otherKey = (await generateKeyPair('RS256')).privateKey as CryptoKey;
  const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' };
  const jwksFile = join(mkdtempSync(join(tmpdir(), 'jwks-')), 'jwks.json');
  writeFileSync(jwksFile, JSON.stringify({ keys: [jwk] }));
  ({ platform, url } = await bootPlatform({ jwksFile }));
}, 120000);
afterAll(async () => { await platform?.stop(); });

const sign = (key: CryptoKey, tenant: string) =>
  new SignJWT({ tenant_id: tenant }).setProtectedHeader({ alg: 'RS256', kid: 'k1' }).setSubject('bob').setExpirationTime('5m').sign(key);

test('RS256 tokens verify against the JWKS file; one signed by another key does not', async () => {
  const tenant = newTenant();
  const ok = await gql(url, bearer(await sign(privateKey, tenant)), `{ records(first: 1) { edges { node { id } } } }`);
  expect(ok.status).toBe(200);
  expect(ok.body).toEqual({ data: { records: { edges: [] } } });
  const forged = await gql(url, bearer(await sign(otherKey, tenant)), `{ records(first: 1) { edges { node { id } } } }`);
  expect(forged.status).toBe(401);
  expect(forged.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
});

test('/health answers while /ready reports 503 once a subgraph stops answering', async () => {
  const health = await fetch(`${url}/health`);
  expect(health.status).toBe(200);
  const ready = await fetch(`${url}/ready`);
  expect(ready.status).toBe(200);
  expect(await ready.json()).toMatchObject({ status: 'ready', subgraphs: { records: true, audit: true } });
  const audit = platform.subgraphs.find((s) => s.name === 'audit')!;
  await audit.stop();
  platform.subgraphs.splice(platform.subgraphs.indexOf(audit), 1);
  const down = await fetch(`${url}/ready`);
  expect(down.status).toBe(503);
  expect(await down.json()).toMatchObject({ status: 'not ready', subgraphs: { records: true, audit: false } });
});
