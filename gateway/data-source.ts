import { STATUS_CODES } from 'node:http';
import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { GraphQLDataSourceRequestKind } from '@apollo/gateway/dist/datasources/types';
import type { GatewayGraphQLResponse } from '@apollo/server-gateway-interface';
import { GraphQLError } from 'graphql';
import { Pool } from 'undici';
import { IDENTITY_HEADER, signIdentity, type Identity } from '../platform/identity';

export interface GatewayContext {
  identity: Identity;
}

export interface DataSourceOptions {
  /**
   * Merge identical subgraph *queries* that are in flight at the same time (same subgraph, same document and
   * variables, same caller — tenant, subject, kind, scopes, source): one HTTP request, each waiter parses its
   * own copy of the answer. The merged request carries the first caller's correlation id. Mutations and
   * subscriptions are never merged. Default: on.
   */
  dedupe?: boolean;
  /** undici pool size per subgraph origin (default 128). */
  connections?: number;
}

/**
 * One undici pool per subgraph origin, shared by every data source of that origin (the gateway builds new data
 * sources on each supergraph reload). Keep-alive shorter than the servers' 65 s (docs/gotchas.md), idle
 * sockets are unref'd by undici so they never keep a process alive.
 */
const pools = new Map<string, Pool>();
function poolFor(origin: string, connections: number): Pool {
  let pool = pools.get(origin);
  if (!pool || pool.closed || pool.destroyed) {
    pool = new Pool(origin, { connections, pipelining: 1, keepAliveTimeout: 30_000, keepAliveMaxTimeout: 60_000 });
    pools.set(origin, pool);
  }
  return pool;
}

/** Closes the shared subgraph connection pools (tests, shutdown). New requests open new pools. */
export async function closeSubgraphPools(): Promise<void> {
  const all = [...pools.values()];
  pools.clear();
  await Promise.all(all.map((p) => p.close().catch(() => undefined)));
}

/** The signed identity header, computed once per identity object (i.e. once per incoming request). */
const signed = new WeakMap<Identity, { secret: string; header: string }>();
function signedHeader(identity: Identity, secret: string): string {
  const hit = signed.get(identity);
  if (hit && hit.secret === secret) return hit.header;
  const header = signIdentity(identity, secret);
  signed.set(identity, { secret, header });
  return header;
}
/** Everything in the identity except the per-request correlation id. */
const callerKey = (i: Identity) => `${i.tenantId}\u0000${i.subject}\u0000${i.kind}\u0000${i.scopes.join(' ')}\u0000${i.source ?? ''}`;

/** The subset of the Fetch `Headers` interface the gateway reads from a subgraph response. */
class ResponseHeaders {
  constructor(private raw: Record<string, string | string[] | undefined>) {}
  get(name: string): string | null {
    const v = this.raw[name.toLowerCase()];
    return v === undefined ? null : Array.isArray(v) ? v.join(', ') : v;
  }
  has(name: string): boolean { return this.raw[name.toLowerCase()] !== undefined; }
  set(name: string, value: string): void { this.raw[name.toLowerCase()] = value; }
  *entries(): IterableIterator<[string, string]> { for (const k of Object.keys(this.raw)) { const v = this.get(k); if (v !== null) yield [k, v]; } }
  *keys(): IterableIterator<string> { for (const [k] of this.entries()) yield k; }
  *values(): IterableIterator<string> { for (const [, v] of this.entries()) yield v; }
  forEach(fn: (value: string, key: string) => void): void { for (const [k, v] of this.entries()) fn(v, k); }
  [Symbol.iterator](): IterableIterator<[string, string]> { return this.entries(); }
}

interface RawResponse { status: number; headers: Record<string, string | string[] | undefined>; text: string }

/** 1.2 → { maxAge: 1 }, like RemoteGraphQLDataSource's handling of a subgraph's Cache-Control header. */
function cacheHint(header: string | null): { maxAge: number; scope?: 'PRIVATE' | 'PUBLIC' } {
  const hint: { maxAge: number; scope?: 'PRIVATE' | 'PUBLIC' } = { maxAge: 0 };
  if (!header) return hint;
  for (const part of header.trim().split(/\s*,\s*/)) {
    const [k, v] = part.split(/\s*=\s*/, 2);
    const value = v === undefined ? true : v.replace(/^"|"$/g, '');
    if (k === 'max-age' && typeof value === 'string' && /^[0-9]+$/.test(value)) hint.maxAge = +value;
    if (k === 'private' && value === true) hint.scope = 'PRIVATE';
    if (k === 'public' && value === true) hint.scope = 'PUBLIC';
  }
  return hint;
}

/**
 * Forwards the verified identity (signed) and the correlation id to every subgraph call.
 *
 * Sends over an undici pool with keep-alive instead of RemoteGraphQLDataSource's default fetch stack
 * (make-fetch-happen → minipass-fetch → agent-base, which builds a stack trace per request), builds no
 * node-fetch Request/Headers, signs the identity once per incoming request, and merges identical in-flight
 * subgraph queries (see DataSourceOptions.dedupe). What the gateway sees is unchanged: the same request body,
 * the same errors for a failed fetch (`request to <url> failed, reason: …`) and for a non-2xx answer
 * (`<status>: <text>` with extensions.response), the same Cache-Control handling; `apq: true` falls back to
 * the stock path.
 */
export class IdentityForwardingDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  private readonly origin: string;
  private readonly path: string;
  private readonly pool: Pool;
  private readonly dedupe: boolean;
  private readonly inflight = new Map<string, Promise<RawResponse>>();

  constructor(url: string, private internalSecret: string, opts: DataSourceOptions = {}) {
    super({ url });
    const u = new URL(url);
    this.origin = u.origin;
    this.path = `${u.pathname}${u.search}`;
    this.pool = poolFor(this.origin, opts.connections ?? 128);
    this.dedupe = opts.dedupe ?? true;
  }

  /** Used by the stock path only (apq). */
  override willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<GatewayContext>): void {
    const identity = (context as Partial<GatewayContext>).identity;
    if (!identity) return; // health checks and schema loading carry no identity; subgraphs refuse them
    request.http!.headers.set(IDENTITY_HEADER, signedHeader(identity, this.internalSecret));
    request.http!.headers.set('x-correlation-id', identity.correlationId);
  }

  override async process(options: GraphQLDataSourceProcessOptions<GatewayContext>): Promise<GatewayGraphQLResponse> {
    if (this.apq) return super.process(options);
    const { request } = options;
    if (!request.query) throw new Error('Missing query');
    const headers: Record<string, string> = {};
    let extraHeaders = false;
    if (request.http?.headers) for (const [name, value] of request.http.headers) { headers[name.toLowerCase()] = value; extraHeaders = true; }
    headers['content-type'] = 'application/json';
    const identity = (options.context as Partial<GatewayContext> | undefined)?.identity;
    if (identity) {
      headers[IDENTITY_HEADER] = signedHeader(identity, this.internalSecret);
      headers['x-correlation-id'] = identity.correlationId;
    }
    // The same body RemoteGraphQLDataSource sends: the GraphQL request without `http`.
    const { http: _http, query, ...rest } = request;
    const body = JSON.stringify({ query, ...rest });

    let raw: RawResponse;
    if (this.dedupe && !extraHeaders && !/^\s*(mutation|subscription)\b/.test(query)) {
      const key = `${identity ? callerKey(identity) : ''}\u0001${body}`;
      let shared = this.inflight.get(key);
      if (!shared) {
        shared = this.send(headers, body).finally(() => this.inflight.delete(key));
        this.inflight.set(key, shared);
      }
      raw = await shared;
    } else {
      raw = await this.send(headers, body);
    }

    const responseHeaders = new ResponseHeaders(raw.headers);
    if (raw.status < 200 || raw.status >= 300) throw this.errorFor(raw, responseHeaders);
    const contentType = responseHeaders.get('content-type');
    let parsed: unknown = raw.text;
    if (contentType && (contentType.startsWith('application/json') || contentType.startsWith('application/graphql-response+json'))) {
      try {
        parsed = JSON.parse(raw.text);
      } catch (err) {
        throw new Error(`invalid json response body at ${this.url} reason: ${(err as Error).message}`);
      }
    }
    if (parsed === null || typeof parsed !== 'object' || Array.isArray(parsed)) throw new Error(`Expected JSON response body, but received: ${parsed}`);
    const response: GatewayGraphQLResponse = { ...(parsed as object), http: { headers: responseHeaders as never, status: raw.status } };

    const incoming = options.kind === GraphQLDataSourceRequestKind.INCOMING_OPERATION ? options.incomingRequestContext : undefined;
    const policy = this.honorSubgraphCacheControlHeader && incoming?.overallCachePolicy && 'restrict' in incoming.overallCachePolicy ? incoming.overallCachePolicy : null;
    const processed = this.didReceiveResponse
      ? await this.didReceiveResponse({ response, request, context: options.context as GatewayContext, pathInIncomingRequest: options.kind === GraphQLDataSourceRequestKind.INCOMING_OPERATION ? options.pathInIncomingRequest : undefined })
      : response;
    if (policy) policy.restrict(cacheHint(responseHeaders.get('cache-control')));
    return processed;
  }

  private async send(headers: Record<string, string>, body: string): Promise<RawResponse> {
    try {
      const res = await this.pool.request({ path: this.path, method: 'POST', headers, body });
      return { status: res.statusCode, headers: res.headers, text: await res.body.text() };
    } catch (err) {
      // node-fetch's wording, which the gateway passes on to clients (and tests match)
      throw new Error(`request to ${this.url} failed, reason: ${(err as Error).message}`);
    }
  }

  /** Same error as RemoteGraphQLDataSource.errorFromResponse. */
  private errorFor(raw: RawResponse, headers: ResponseHeaders): GraphQLError {
    const contentType = headers.get('content-type');
    let body: unknown = raw.text;
    if (contentType && (contentType.startsWith('application/json') || contentType.startsWith('application/graphql-response+json'))) {
      try { body = JSON.parse(raw.text); } catch { body = raw.text; }
    }
    const statusText = STATUS_CODES[raw.status] ?? '';
    const extensions: Record<string, unknown> = { response: { url: this.url, status: raw.status, statusText, body } };
    if (raw.status === 401) extensions.code = 'UNAUTHENTICATED';
    else if (raw.status === 403) extensions.code = 'FORBIDDEN';
    return new GraphQLError(`${raw.status}: ${statusText}`, { extensions });
  }
}
