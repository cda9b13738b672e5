/**
 * The four reference subgraphs, served by plain node:http in ONE process (pinned by the harness to the load
 * core). They must never be the bottleneck, so each one memoises its response per request body: the data is
 * deterministic, the first request of a kind runs through graphql-js (@apollo/subgraph schema), every repeat
 * costs only HTTP handling. `BENCH_SUBGRAPH_CACHE=0` turns that off.
 *
 * `node dist/bench/reference/subgraphs.js [basePort]` — accounts = base, inventory = base+1, products = base+2,
 * reviews = base+3; without a base (or 0) each takes a free port. Sends {ready, urls} over IPC (or prints it)
 * once all four listen.
 */
import { createServer, type IncomingMessage, type Server } from 'node:http';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { execute, parse, validate, type GraphQLSchema } from 'graphql';
import { REFERENCE_SUBGRAPHS, RESOLVERS, TYPE_DEFS, type ReferenceSubgraph } from './schema';

const CACHE = process.env.BENCH_SUBGRAPH_CACHE !== '0';

function readAll(req: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(chunks.length === 1 ? chunks[0].toString('utf8') : Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

export function buildReferenceSchema(name: ReferenceSubgraph): GraphQLSchema {
  return buildSubgraphSchema({ typeDefs: TYPE_DEFS[name], resolvers: RESOLVERS[name] });
}

async function run(schema: GraphQLSchema, body: string): Promise<{ status: number; text: string; cacheable: boolean }> {
  let req: { query?: string; variables?: Record<string, unknown>; operationName?: string };
  try {
    req = JSON.parse(body);
  } catch {
    return { status: 400, text: JSON.stringify({ errors: [{ message: 'body is not JSON' }] }), cacheable: false };
  }
  let document;
  try {
    document = parse(req.query ?? '');
  } catch (err) {
    return { status: 400, text: JSON.stringify({ errors: [{ message: (err as Error).message }] }), cacheable: false };
  }
  const errors = validate(schema, document);
  if (errors.length) return { status: 400, text: JSON.stringify({ errors: errors.map((e) => e.toJSON()) }), cacheable: false };
  const result = await execute({ schema, document, variableValues: req.variables, operationName: req.operationName });
  return { status: 200, text: JSON.stringify(result), cacheable: !result.errors };
}

export function serveReferenceSubgraph(name: ReferenceSubgraph, port: number, host = '127.0.0.1'): Promise<Server> {
  const schema = buildReferenceSchema(name);
  const cache = new Map<string, Buffer>();
  const server = createServer(async (req, res) => {
    if (req.method !== 'POST') {
      res.writeHead(req.url === '/health' ? 200 : 405, { 'content-type': 'application/json' });
      res.end('{"status":"ok"}');
      return;
    }
    const body = await readAll(req);
    let out = CACHE ? cache.get(body) : undefined;
    if (!out) {
      const r = await run(schema, body);
      out = Buffer.from(r.text);
      if (r.status !== 200) {
        res.writeHead(r.status, { 'content-type': 'application/json', 'content-length': out.length });
        res.end(out);
        return;
      }
      if (CACHE && r.cacheable && cache.size < 10_000) cache.set(body, out);
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': out.length });
    res.end(out);
  });
  server.keepAliveTimeout = 65_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => resolve(server));
  });
}

async function main() {
  const base = Number(process.argv[2] ?? 0);
  const urls: Record<string, string> = {};
  for (const [i, name] of REFERENCE_SUBGRAPHS.entries()) {
    const server = await serveReferenceSubgraph(name, base ? base + i : 0);
    urls[name] = `http://127.0.0.1:${(server.address() as { port: number }).port}/graphql`;
  }
  const msg = { ready: true, urls };
  if (process.send) process.send(msg);
  else console.log(JSON.stringify(msg));
}

if (require.main === module) main().catch((err) => { console.error(err); process.exit(1); });
