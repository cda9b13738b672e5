import type { IncomingMessage, ServerResponse } from 'node:http';
import type { ExecutionResult } from 'graphql';
import { sendJson } from '../../platform/http';
import type { Session } from './session';
import type { OperationPayload, StreamingOperations } from './operations';

/** An SSE request: `Accept: text/event-stream` on `/graphql` (the graphql-sse "distinct connections" mode). */
export const wantsEventStream = (req: IncomingMessage) => (req.headers.accept ?? '').includes('text/event-stream');

const event = (name: 'next' | 'complete', data?: ExecutionResult) => `event: ${name}\ndata: ${data ? JSON.stringify(data) : ''}\n\n`;

/** Writes and waits until the socket took it, so a slow reader holds events in the bounded ClientStream, not here. */
function write(res: ServerResponse, chunk: string): Promise<boolean> {
  return new Promise((resolve) => {
    if (!res.writable) return resolve(false);
    res.write(chunk, (err) => resolve(!err));
  });
}

/** GraphQL over Server-Sent Events, one operation per request (POST JSON body, or GET with query parameters). */
export async function serveEventStream(req: IncomingMessage, res: ServerResponse, body: Buffer, session: Session, operations: StreamingOperations, headers: Record<string, string>): Promise<void> {
  let payload: OperationPayload;
  try {
    if (req.method === 'GET') {
      const url = new URL(req.url ?? '/', 'http://localhost');
      const vars = url.searchParams.get('variables');
      payload = { query: url.searchParams.get('query') ?? '', operationName: url.searchParams.get('operationName'), variables: vars ? JSON.parse(vars) : undefined };
    } else {
      payload = JSON.parse(body.toString('utf8'));
    }
  } catch {
    return sendJson(res, 400, { errors: [{ message: 'the request is not valid JSON', extensions: { code: 'BAD_REQUEST' } }] }, headers);
  }
  const planned = operations.prepare(payload);
  if (Array.isArray(planned)) return sendJson(res, 400, { errors: planned.map((e) => e.toJSON()) }, headers);
  const result = await operations.run(session, planned as Exclude<typeof planned, readonly unknown[]>, payload);
  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', ...headers });
  res.flushHeaders();
  if (!(Symbol.asyncIterator in result)) {
    await write(res, event('next', result as ExecutionResult));
    await write(res, event('complete'));
    res.end();
    return;
  }
  const stream = result;
  const closed = () => { void stream.return(); };
  res.once('close', closed);
  const ping = setInterval(() => { if (res.writable) res.write(':\n\n'); }, 12_000);
  try {
    for await (const next of stream) {
      if (!(await write(res, event('next', next)))) break;
    }
    await write(res, event('complete'));
  } finally {
    clearInterval(ping);
    res.off('close', closed);
    res.end();
  }
}
