import type { IncomingMessage, ServerResponse } from 'node:http';
import { HeaderMap, type ApolloServer, type BaseContext } from '@apollo/server';

export class BodyTooLargeError extends Error {}

/** Reads the whole request body, refusing more than `limit` bytes. */
export async function readBody(req: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length'] ?? 0);
  if (declared > limit) throw new BodyTooLargeError(`request body exceeds ${limit} bytes`);
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > limit) throw new BodyTooLargeError(`request body exceeds ${limit} bytes`);
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers });
  res.end(text);
}

/** Runs one HTTP request through Apollo Server (so graphql-ws can later share the same http.Server). */
export async function runApollo<C extends BaseContext>(
  server: ApolloServer<C>,
  req: IncomingMessage,
  res: ServerResponse,
  rawBody: Buffer,
  context: () => Promise<C>,
  extraHeaders: Record<string, string> = {},
): Promise<void> {
  const headers = new HeaderMap();
  for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers.set(k, Array.isArray(v) ? v.join(', ') : v);
  const url = new URL(req.url ?? '/', 'http://localhost');
  let body: unknown = undefined;
  if (req.method === 'POST' && rawBody.length > 0) {
    try {
      body = JSON.parse(rawBody.toString('utf8'));
    } catch {
      return sendJson(res, 400, { errors: [{ message: 'request body is not valid JSON', extensions: { code: 'BAD_REQUEST' } }] });
    }
  }
  const result = await server.executeHTTPGraphQLRequest({
    httpGraphQLRequest: { method: req.method ?? 'GET', headers, search: url.search, body },
    context,
  });
  const out: Record<string, string> = { ...extraHeaders };
  for (const [k, v] of result.headers) out[k] = v;
  res.writeHead(result.status ?? 200, out);
  if (result.body.kind === 'complete') {
    res.end(result.body.string);
  } else {
    for await (const chunk of result.body.asyncIterator) res.write(chunk);
    res.end();
  }
}

/** Stops accepting connections, lets in-flight requests finish (up to graceMs), then drops the rest. */
export async function closeServer(server: import('node:http').Server, graceMs = 5000): Promise<void> {
  const closed = new Promise<void>((res) => server.close(() => res()));
  server.closeIdleConnections();
  const timer = setTimeout(() => server.closeAllConnections(), graceMs);
  await closed;
  clearTimeout(timer);
}

/**
 * Listens on HOST (loopback unless set; containers use 0.0.0.0). The keep-alive timeout outlives clients'
 * idle sockets, so a socket a client reuses is never closed under its request (ECONNRESET).
 */
export async function listen(server: import('node:http').Server, port: number): Promise<number> {
  server.keepAliveTimeout = 65_000;
  await new Promise<void>((res, rej) => { server.once('error', rej); server.listen(port, process.env.HOST || '127.0.0.1', res); });
  return (server.address() as { port: number }).port;
}
