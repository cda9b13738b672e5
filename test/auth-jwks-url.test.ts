import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SignJWT, UnsecuredJWT, exportJWK, generateKeyPair, type KeyLike } from 'jose';
import { bearer, bootPlatform, gql, newTenant } from './harness';
import type { Platform } from '../scripts/platform';

let platform: Platform;
let url: string;
let jwksServer: Server;
let jwksRequests = 0;
const keys: Record<'rsa' | 'ec' | 'strangerRsa', KeyLike> = {} as never;

beforeAll(async () => {
  const rsa = await generateKeyPair('RS256');
  const ec = await generateKeyPair('ES256');
  keys.rsa = rsa.privateKey;
  keys.ec = ec.privateKey;
  keys.strangerRsa = (await generateKeyPair('RS256')).privateKey;
  const jwks = JSON.stringify({ keys: [
    { ...(await exportJWK(rsa.publicKey)), kid: 'rsa-1', alg: 'RS256', use: 'sig' },
    { ...(await exportJWK(ec.publicKey)), kid: 'ec-1', alg: 'ES256', use: 'sig' },
  ] });
  jwksServer = createServer((req, res) => {
    jwksRequests++;
    res.writeHead(200, { 'content-type': 'application/json' }).end(jwks);
  });
  await new Promise<void>((res) => jwksServer.listen(0, '127.0.0.1', res));
  const jwksUrl = `http://127.0.0.1:${(jwksServer.address() as AddressInfo).port}/.well-known/jwks.json`;
  ({ platform, url } = await bootPlatform({ jwksUrl }));
}, 120000);

afterAll(async () => {
  await platform?.stop();
  await new Promise((res) => jwksServer?.close(res));
});

const QUERY = `{ records(first: 1) { edges { node { id } } } }`;
const sign = (key: KeyLike, alg: 'RS256' | 'ES256', kid: string) =>
  new SignJWT({ tenant_id: newTenant() }).setProtectedHeader({ alg, kid }).setSubject('carol').setExpirationTime('5m').sign(key);

async function expectUnauthenticated(token: string) {
  const r = await gql(url, bearer(token), QUERY);
  expect(r.status).toBe(401);
  expect(r.body.errors[0].extensions.code).toBe('UNAUTHENTICATED');
  expect(r.body.data).toBeUndefined();
}

test('RS256 and ES256 tokens verify against the keys served at JWKS_URL', async () => {
  for (const token of [await sign(keys.rsa, 'RS256', 'rsa-1'), await sign(keys.ec, 'ES256', 'ec-1')]) {
    const r = await gql(url, bearer(token), QUERY);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ data: { records: { edges: [] } } });
  }
  expect(jwksRequests).toBeGreaterThan(0);
});

test('a token signed by a key the JWKS does not hold is refused', async () => {
  await expectUnauthenticated(await sign(keys.strangerRsa, 'RS256', 'rsa-1'));
});

test('an ES256 token naming an unknown kid is refused, even though its signature is by a known key', async () => {
  await expectUnauthenticated(await sign(keys.ec, 'ES256', 'no-such-kid'));
});

test('an unsigned (alg: none) token is refused', async () => {
  const token = new UnsecuredJWT({ tenant_id: newTenant() }).setSubject('carol').setExpirationTime('5m').encode();
  expect(JSON.parse(Buffer.from(token.split('.')[0], 'base64url').toString())).toEqual({ alg: 'none' });
  await expectUnauthenticated(token);
});
