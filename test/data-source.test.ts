import 'reflect-metadata';
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { composeServices } from '@apollo/composition';
import { RemoteGraphQLDataSource } from '@apollo/gateway';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { GraphQLError, execute, parse } from 'graphql';
import gql from 'graphql-tag';
import { startGateway, type RunningGateway } from '../gateway/server';
import { IdentityForwardingDataSource, closeSubgraphPools } from '../gateway/data-source';
import { Authenticator, AuthError } from '../gateway/auth';
import { openApiKeyStore } from '../gateway/api-keys';
import { verifyIdentity, IDENTITY_HEADER, type Identity } from '../platform/identity';
import { loadConfig, type PlatformConfig } from '../platform/config';
import { mintJwt } from '../scripts/cli';

/**
 * The gateway's subgraph data source (undici pool, in-flight merging) through a real gateway over two small
 * subgraphs: identity headers, errors with paths and partial data when a subgraph fails, the same errors as
 * the stock RemoteGraphQLDataSource, merging only what may be merged. Plus the verified-token cache.
 */

const LINK = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.3", import: ["@key"])';
const people = { typeDefs: gql`${LINK}
  type Query { people: [Person!]! }
  type Mutation { touch: Int }
  type Person @key(fields: "id") { id: ID! name: String! }`,
resolvers: {
  Query: { people: () => [{ id: '1', name: 'Ada' }, { id: '2', name: 'Alan' }] },
  Mutation: { touch: () => 1 },
  Person: { __resolveReference: (r: { id: string }) => ({ id: r.id, name: r.id === '1' ? 'Ada' : 'Alan' }) },
} };
const pets = { typeDefs: gql`${LINK}
  type Person @key(fields: "id") { id: ID! pet: Pet }
  type Pet { name: String! }`,
resolvers: {
  Person: {
    __resolveReference: (r: { id: string }) => r,
    pet: (p: { id: string }) => { if (p.id === '2') throw new GraphQLError('no pet for you', { extensions: { code: 'PET_DENIED' } }); return { name: `pet-of-${p.id}` }; },
  },
} };

interface Sub { server: Server; url: string; seen: { headers: IncomingHttpHeaders; body: string }[]; mode: 'ok' | 'http500'; delayMs: number }

async function serve(def: typeof people | typeof pets): Promise<Sub> {
  const schema = buildSubgraphSchema({ typeDefs: def.typeDefs, resolvers: def.resolvers as never });
  const sub = { seen: [], mode: 'ok', delayMs: 0 } as unknown as Sub;
  sub.server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const body = Buffer.concat(chunks).toString('utf8');
    sub.seen.push({ headers: req.headers, body });
    if (sub.delayMs) await new Promise((r) => setTimeout(r, sub.delayMs));
    if (sub.mode === 'http500') {
      res.writeHead(500, { 'content-type': 'application/json' });
      return res.end(JSON.stringify({ errors: [{ message: 'boom' }] }));
    }
    const { query, variables } = JSON.parse(body);
    const result = await execute({ schema, document: parse(query), variableValues: variables });
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify(result));
  });
  await new Promise<void>((r) => sub.server.listen(0, '127.0.0.1', r));
  sub.url = `http://127.0.0.1:${(sub.server.address() as { port: number }).port}/graphql`;
  return sub;
}

let peopleSub: Sub;
let petsSub: Sub;
let gateway: RunningGateway;
let config: PlatformConfig;

beforeAll(async () => {
  process.env.LOG_REQUESTS = '0';
  peopleSub = await serve(people);
  petsSub = await serve(pets);
  const composed = composeServices([{ name: 'people', typeDefs: people.typeDefs, url: peopleSub.url }, { name: 'pets', typeDefs: pets.typeDefs, url: petsSub.url }]);
  if (composed.errors) throw composed.errors[0];
  const dir = mkdtempSync(join(tmpdir(), 'ds-test-'));
  writeFileSync(join(dir, 'supergraph.graphql'), composed.supergraphSdl);
  config = { ...loadConfig(), databaseUrl: undefined, dataDir: dir };
  gateway = await startGateway({ config, port: 0, supergraphPath: join(dir, 'supergraph.graphql') });
}, 60000);

afterAll(async () => {
  await gateway?.stop();
  for (const s of [peopleSub, petsSub]) await new Promise((r) => { s.server.closeAllConnections(); s.server.close(r); });
  await closeSubgraphPools();
});

beforeEach(() => {
  for (const s of [peopleSub, petsSub]) { s.seen.length = 0; s.mode = 'ok'; s.delayMs = 0; }
});

async function query(token: string, q: string, headers: Record<string, string> = {}) {
  const res = await fetch(`${gateway.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers }, body: JSON.stringify({ query: q }) });
  return { status: res.status, body: await res.json() };
}
const token = (tenant: string, sub = 'alice') => mintJwt(config.jwtSecret, { tenant, sub, ttl: 600 });
const Q = '{ people { id name pet { name } } }';

test('every subgraph request carries the signed identity and the correlation id', async () => {
  const r = await query(await token('acme'), Q, { 'x-correlation-id': 'corr-ds-1' });
  expect(r.body.data.people[0]).toEqual({ id: '1', name: 'Ada', pet: { name: 'pet-of-1' } });
  expect(peopleSub.seen).toHaveLength(1);
  expect(petsSub.seen).toHaveLength(1);
  for (const { headers } of [...peopleSub.seen, ...petsSub.seen]) {
    const identity = verifyIdentity(headers[IDENTITY_HEADER] as string, config.internalSecret);
    expect(identity).toMatchObject({ tenantId: 'acme', subject: 'alice', kind: 'user', correlationId: 'corr-ds-1' });
    expect(headers['x-correlation-id']).toBe('corr-ds-1');
    expect(headers['content-type']).toBe('application/json');
  }
});

test('a field error in one subgraph: partial data and the error at its path in the client operation', async () => {
  const r = await query(await token('acme'), Q);
  expect(r.status).toBe(200);
  expect(r.body.data).toEqual({ people: [{ id: '1', name: 'Ada', pet: { name: 'pet-of-1' } }, { id: '2', name: 'Alan', pet: null }] });
  expect(r.body.errors).toEqual([expect.objectContaining({ message: 'no pet for you', path: ['people', 1, 'pet'], extensions: expect.objectContaining({ code: 'PET_DENIED' }) })]);
});

test('a subgraph answering 500: the other subgraph\'s data and the stock "<status>: <text>" error', async () => {
  petsSub.mode = 'http500';
  const r = await query(await token('acme'), Q);
  expect(r.body.data).toEqual({ people: [{ id: '1', name: 'Ada', pet: null }, { id: '2', name: 'Alan', pet: null }] });
  expect(r.body.errors).toHaveLength(1);
  expect(r.body.errors[0].message).toBe('500: Internal Server Error');
});

test('a subgraph that is down: partial data and the stock "request to <url> failed" error', async () => {
  const port = (petsSub.server.address() as { port: number }).port;
  await new Promise((r) => { petsSub.server.close(r); petsSub.server.closeAllConnections(); });
  try {
    const r = await query(await token('acme'), Q);
    expect(r.status).toBe(200);
    expect(r.body.data).toEqual({ people: [{ id: '1', name: 'Ada', pet: null }, { id: '2', name: 'Alan', pet: null }] });
    // the data source's message ("request to <url> failed, reason: …ECONNREFUSED"); the gateway may mask the URL as "the pets subgraph is unavailable"
    expect(r.body.errors).toHaveLength(1);
    expect(r.body.errors[0].message).toMatch(new RegExp(`^request to ${petsSub.url.replace(/[.]/g, '\\.')} failed, reason: .*ECONNREFUSED|^the pets subgraph is unavailable$`));
  } finally {
    await new Promise<void>((r) => petsSub.server.listen(port, '127.0.0.1', r));
  }
  // and the same message as the stock data source gives
  const down = await serve(pets);
  const url = down.url;
  await new Promise((r) => down.server.close(r));
  const ours = new IdentityForwardingDataSource(url, 's');
  const stock = new RemoteGraphQLDataSource({ url });
  const req = () => ({ kind: 'health check' as never, request: { query: '{ __typename }' }, context: {} });
  const a = await ours.process(req()).catch((e: Error) => e);
  const b = await stock.process(req()).catch((e: Error) => e);
  expect((a as Error).message).toBe((b as Error).message);
  expect((a as Error).message).toMatch(/^request to http:\/\/127\.0\.0\.1:\d+\/graphql failed, reason: .*ECONNREFUSED/);
});

test('non-2xx answers give the same GraphQLError as the stock data source', async () => {
  petsSub.mode = 'http500';
  const req = () => ({ kind: 'health check' as never, request: { query: '{ __typename }' }, context: {} });
  const a = await new IdentityForwardingDataSource(petsSub.url, 's').process(req()).catch((e: GraphQLError) => e);
  const b = await new RemoteGraphQLDataSource({ url: petsSub.url }).process(req()).catch((e: GraphQLError) => e);
  expect(a).toBeInstanceOf(GraphQLError);
  expect((a as GraphQLError).toJSON()).toEqual((b as GraphQLError).toJSON());
  expect((a as GraphQLError).extensions.response).toMatchObject({ status: 500, statusText: 'Internal Server Error', body: { errors: [{ message: 'boom' }] } });
});

test('identical queries in flight together are sent once per caller; each client gets a full answer', async () => {
  peopleSub.delayMs = 150;
  const [acme, other] = [await token('acme'), await token('other')];
  const rs = await Promise.all([...Array.from({ length: 5 }, () => query(acme, Q)), query(other, Q)]);
  for (const r of rs) expect(r.body.data.people).toHaveLength(2);
  // one request for the 5 acme clients, one for the other tenant: a tenant never receives another's answer
  expect(peopleSub.seen).toHaveLength(2);
  const tenants = peopleSub.seen.map((s) => verifyIdentity(s.headers[IDENTITY_HEADER] as string, config.internalSecret)!.tenantId).sort();
  expect(tenants).toEqual(['acme', 'other']);
  // each client got its own objects (the gateway merges into them), so answers are equal but independent
  expect(rs[0].body).toEqual(rs[1].body);
});

test('mutations are never merged', async () => {
  peopleSub.delayMs = 100;
  const acme = await token('acme');
  const rs = await Promise.all(Array.from({ length: 3 }, () => query(acme, 'mutation { touch }')));
  for (const r of rs) expect(r.body.data).toEqual({ touch: 1 });
  expect(peopleSub.seen).toHaveLength(3);
});

describe('verified-token cache', () => {
  const keys = () => openApiKeyStore(undefined, mkdtempSync(join(tmpdir(), 'auth-test-')));
  const ctx = (auth: Authenticator, t: string, c = 'c1') => auth.authenticate({ authorization: `Bearer ${t}` }, c);

  test('a cached token gives a fresh identity per request, and still expires at exp', async () => {
    const auth = new Authenticator({ jwtSecret: config.jwtSecret, keys: keys() });
    const t = await mintJwt(config.jwtSecret, { tenant: 'acme', sub: 'bob', scope: 'a b', ttl: 60 });
    const first: Identity = await ctx(auth, t, 'c1');
    const second: Identity = await ctx(auth, t, 'c2');
    expect(first).toEqual({ tenantId: 'acme', subject: 'bob', kind: 'user', scopes: ['a', 'b'], correlationId: 'c1' });
    expect(second).toEqual({ ...first, correlationId: 'c2' });
    second.scopes.push('mutated');
    expect((await ctx(auth, t, 'c3')).scopes).toEqual(['a', 'b']);
    const now = Date.now();
    const spy = jest.spyOn(Date, 'now').mockReturnValue(now + 61_000);
    try {
      await expect(ctx(auth, t)).rejects.toEqual(new AuthError('token expired'));
    } finally {
      spy.mockRestore();
    }
  });

  test('a forged or altered token never hits the cache', async () => {
    const auth = new Authenticator({ jwtSecret: config.jwtSecret, keys: keys() });
    const t = await mintJwt(config.jwtSecret, { tenant: 'acme', sub: 'bob', ttl: 60 });
    await ctx(auth, t);
    const [h, p, s] = t.split('.');
    const forged = [h, Buffer.from(JSON.stringify({ ...JSON.parse(Buffer.from(p, 'base64url').toString()), tenant_id: 'evil' })).toString('base64url'), s].join('.');
    await expect(ctx(auth, forged)).rejects.toEqual(new AuthError('token invalid'));
  });
});
