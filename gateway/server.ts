import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { randomUUID } from 'node:crypto';
import { readFileSync, watchFile, unwatchFile } from 'node:fs';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import type { GraphQLFormattedError } from 'graphql';
import { SUBGRAPHS, subgraphUrl, type PlatformConfig, type SubgraphName } from '../platform/config';
import { BodyTooLargeError, closeServer, listen, readBody, runApollo, sendJson } from '../platform/http';
import { Authenticator, AuthError } from './auth';
import { openApiKeyStore, type ApiKeyStore } from './api-keys';
import { IdentityForwardingDataSource, type GatewayContext } from './data-source';
import { dataIngestion, executor, ffiRecords } from './rest-compat';
import { createRunRest, getRunRest, webhookRest } from './rest-runs';
import { SubscriptionBridge } from './subscriptions/bridge';
import { StreamingOperations } from './subscriptions/operations';
import { Session, TenantConnections, type SessionLimits } from './subscriptions/session';
import { attachWebSocketServer } from './subscriptions/ws-server';
import { serveEventStream, wantsEventStream } from './subscriptions/sse';
import { subscriptionsNeedAStream } from './subscriptions/http-plugin';
import { WEBHOOK_DELIVERY_SCOPE, type Identity } from '../platform/identity';

export interface GatewayOptions {
  config: PlatformConfig;
  port: number;
  supergraphPath: string;
  keys?: ApiKeyStore;
}

export interface RunningGateway {
  url: string;
  /** Live subscription counters (tests and /ready use them). */
  subscriptions(): Record<string, number>;
  server: Server;
  keys: ApiKeyStore;
  stop(): Promise<void>;
}

function log(entry: Record<string, unknown>): void {
  if (process.env.LOG_REQUESTS !== '0') console.log(JSON.stringify({ at: new Date().toISOString(), ...entry }));
}

interface RestRoute { name: 'ffi' | 'ingest' | 'createRun' | 'getRun' | 'webhook'; method: 'GET' | 'POST'; id?: string }

/** The REST contracts existing clients speak; each is a thin adapter over the graph. */
function matchRest(path: string): RestRoute | null {
  if (path === '/ffi/v1/records') return { name: 'ffi', method: 'POST' };
  if (path === '/api/v1/data_ingestion') return { name: 'ingest', method: 'POST' };
  if (path === '/v1/runs') return { name: 'createRun', method: 'POST' };
  const m = /^\/v1\/(runs|webhooks)\/([\w-]{1,100})$/.exec(path);
  if (m) return m[1] === 'runs' ? { name: 'getRun', method: 'GET', id: m[2] } : { name: 'webhook', method: 'POST', id: m[2] };
  return null;
}

/** "request to http://10.0.0.7:4002/graphql failed, reason: …" names internal addresses: say which subgraph instead. */
function maskSubgraphFailure(formatted: GraphQLFormattedError, subgraphs: Map<string, { url: string }>): GraphQLFormattedError {
  const failed = /^request to (\S+) failed/.exec(formatted.message)?.[1];
  if (!failed) return formatted;
  const service = [...subgraphs].find(([, s]) => s.url === failed)?.[0] ?? 'a';
  return { ...formatted, message: `the ${service} subgraph is unavailable`, extensions: { ...formatted.extensions, code: 'SUBGRAPH_UNAVAILABLE', service, retryable: true } };
}

const gqlError = (code: string, message: string) => ({ errors: [{ message, extensions: { code } }] });

export async function startGateway(opts: GatewayOptions): Promise<RunningGateway> {
  const { config } = opts;
  const keys = opts.keys ?? openApiKeyStore(config.databaseUrl, config.dataDir);
  const auth = new Authenticator({ jwtSecret: config.jwtSecret, jwksFile: config.jwksFile, jwksUrl: config.jwksUrl, keys });
  let schemaLoaded = false;

  const gateway = new ApolloGateway({
    // Reload the supergraph whenever the file changes (e.g. after `npm run compose`).
    supergraphSdl: async ({ update }) => {
      const read = () => readFileSync(opts.supergraphPath, 'utf8');
      let current = read();
      watchFile(opts.supergraphPath, { interval: 500 }, () => {
        const next = read();
        if (next === current) return;
        current = next;
        try {
          update(next);
          log({ event: 'supergraph_reloaded' });
        } catch (err) {
          log({ event: 'supergraph_reload_failed', error: (err as Error).message });
        }
      });
      return { supergraphSdl: current, cleanup: async () => unwatchFile(opts.supergraphPath) };
    },
    buildService: ({ name, url }) => {
      const known = (SUBGRAPHS as readonly string[]).includes(name);
      const target = known ? subgraphUrl(name as SubgraphName) : url!;
      const source = new IdentityForwardingDataSource(target, config.internalSecret);
      subgraphs.set(name, { url: target, source });
      return source;
    },
  });
  const subgraphs = new Map<string, { url: string; source: IdentityForwardingDataSource }>();
  const bridge = new SubscriptionBridge({
    internalSecret: config.internalSecret,
    wsUrlOf: (name) => (subgraphs.get(name)?.url ?? subgraphUrl(name as SubgraphName)).replace(/^http/, 'ws'),
    dataSourceOf: (name) => subgraphs.get(name)?.source,
    maxQueuedPerClient: config.subscriptionBufferEvents,
  });
  gateway.onSchemaLoadOrUpdate(({ coreSupergraphSdl }) => {
    schemaLoaded = true;
    try {
      bridge.setSupergraph(coreSupergraphSdl);
    } catch (err) {
      log({ event: 'subscription_planner_failed', error: (err as Error).message });
    }
  });

  const apollo = new ApolloServer<GatewayContext>({
    gateway, includeStacktraceInErrorResponses: false, stopOnTerminationSignals: false,
    // Nothing reads the Cache-Control header Apollo would compute per response: 1.13× req/s without it (docs/performance.md).
    plugins: [ApolloServerPluginCacheControlDisabled(), subscriptionsNeedAStream()],
    formatError: (formatted) => maskSubgraphFailure(formatted, subgraphs),
  });
  await apollo.start();
  const limits: SessionLimits = {
    maxSubscriptionsPerConnection: config.maxSubscriptionsPerConnection, maxConnectionsPerTenant: config.maxConnectionsPerTenant, recheckMs: config.subscriptionAuthRecheckMs,
  };
  const operations = new StreamingOperations(bridge, apollo, limits);
  const tenants = new TenantConnections(config.maxConnectionsPerTenant);

  async function identify(req: IncomingMessage, correlationId: string) {
    return auth.authenticate({ authorization: req.headers.authorization, apiKey: req.headers['x-api-key'] as string | undefined }, correlationId);
  }

  async function ready(): Promise<{ ok: boolean; subgraphs: Record<string, boolean> }> {
    const checks = await Promise.all(SUBGRAPHS.map(async (name) => {
      try {
        const r = await fetch(subgraphUrl(name).replace(/\/graphql$/, '/health'), { signal: AbortSignal.timeout(2000) });
        return [name, r.ok] as const;
      } catch {
        return [name, false] as const;
      }
    }));
    const subgraphs = Object.fromEntries(checks);
    return { ok: schemaLoaded && checks.every(([, ok]) => ok), subgraphs };
  }

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const started = Date.now();
    const given = req.headers['x-correlation-id'];
    const correlationId = typeof given === 'string' && /^[\w.:-]{1,128}$/.test(given) ? given : randomUUID();
    const headers = { 'x-correlation-id': correlationId };
    const path = (req.url ?? '/').split('?')[0];
    res.on('finish', () => log({ correlationId, method: req.method, path, status: res.statusCode, ms: Date.now() - started }));
    try {
      if (req.method === 'GET' && path === '/health') return sendJson(res, 200, { status: 'ok' }, headers);
      if (req.method === 'GET' && path === '/ready') {
        const r = await ready();
        return sendJson(res, r.ok ? 200 : 503, { status: r.ok ? 'ready' : 'not ready', supergraphLoaded: schemaLoaded, subgraphs: r.subgraphs }, headers);
      }
      const rest = matchRest(path);
      if (path !== '/graphql' && !rest) return sendJson(res, 404, { error: 'NOT_FOUND', detail: `no route for ${req.method} ${path}` }, headers);
      if (rest && req.method !== rest.method) return sendJson(res, 405, { error: 'METHOD_NOT_ALLOWED', detail: `use ${rest.method}` }, headers);

      let identity: Identity;
      try {
        // A webhook delivery authenticates by its signature, which the flow-runs subgraph checks.
        identity = rest?.name === 'webhook'
          ? { tenantId: '', subject: 'gateway:webhooks', kind: 'system', scopes: [WEBHOOK_DELIVERY_SCOPE], correlationId }
          : await identify(req, correlationId);
      } catch (err) {
        if (!(err instanceof AuthError)) throw err;
        return rest
          ? sendJson(res, 401, { error: err.code, detail: err.message }, headers)
          : sendJson(res, 401, gqlError(err.code, err.message), headers);
      }
      if (rest?.name === 'ingest' && identity.kind !== 'apikey') {
        return sendJson(res, 401, { error: 'UNAUTHENTICATED', detail: 'this endpoint takes an X-API-Key' }, headers);
      }
      let body: Buffer;
      try {
        body = await readBody(req, config.maxBodyBytes);
      } catch (err) {
        if (!(err instanceof BodyTooLargeError)) throw err;
        return rest
          ? sendJson(res, 413, { error: 'REQUEST_TOO_LARGE', detail: err.message }, headers)
          : sendJson(res, 413, gqlError('REQUEST_TOO_LARGE', err.message), headers);
      }
      const context: GatewayContext = { identity };
      if (!rest && wantsEventStream(req)) return await eventStream(req, res, body, headers);
      if (rest) {
        const exec = executor(apollo, context);
        if (rest.name === 'getRun') return await getRunRest(exec, rest.id!, res, headers);
        if (rest.name === 'webhook') return await webhookRest(exec, rest.id!, body, req.headers, res, headers);
        let json: unknown;
        try {
          json = JSON.parse(body.toString('utf8'));
        } catch {
          return sendJson(res, 400, { error: 'BAD_REQUEST', detail: 'body is not valid JSON' }, headers);
        }
        if (rest.name === 'ffi') return await ffiRecords(exec, json, res, headers, identity.source ?? 'ffi');
        if (rest.name === 'createRun') return await createRunRest(exec, json, res, headers, req.headers['idempotency-key'] as string | undefined);
        return await dataIngestion(exec, json, res, headers);
      }
      await runApollo(apollo, req, res, body, async () => context, headers);
    } catch (err) {
      log({ correlationId, event: 'unhandled_error', error: (err as Error).stack });
      if (!res.headersSent) sendJson(res, 500, gqlError('INTERNAL_SERVER_ERROR', 'internal error'), headers);
      else res.end();
    }
  }

  /** One SSE stream: a session of its own (expiry, revocation) counted against the tenant's connections. */
  async function eventStream(req: IncomingMessage, res: ServerResponse, body: Buffer, headers: Record<string, string>): Promise<void> {
    let session: Session;
    try {
      session = await Session.open(auth, { authorization: req.headers.authorization, apiKey: req.headers['x-api-key'] as string | undefined }, headers['x-correlation-id'], limits, () => {});
    } catch (err) {
      if (!(err instanceof AuthError)) throw err;
      return sendJson(res, 401, gqlError(err.code, err.message), headers);
    }
    if (!tenants.tryAcquire(session.identity.tenantId)) {
      session.close();
      return sendJson(res, 429, gqlError('TOO_MANY_CONNECTIONS', 'too many connections for this tenant'), headers);
    }
    try {
      await serveEventStream(req, res, body, session, operations, headers);
    } finally {
      session.close();
      tenants.release(session.identity.tenantId);
    }
  }

  let stopped: Promise<void> | undefined;
  const server = createServer((req, res) => { void handle(req, res); });
  const ws = attachWebSocketServer({ server, path: '/graphql', auth, operations, limits, tenants });
  const port = await listen(server, opts.port);
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    keys,
    subscriptions: () => ({ ...bridge.stats(), sockets: ws.connections, tenantConnections: tenants.total }),
    async stop() {
      // Idempotent: a second signal must not close the WebSocket server twice.
      stopped ??= (async () => {
        await ws.close();
        await bridge.close();
        await closeServer(server);
        await apollo.stop();
        await keys.close();
      })();
      return stopped;
    },
  };
}
