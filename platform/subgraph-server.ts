import 'reflect-metadata';
import { createServer, type Server } from 'node:http';
import { ApolloServer } from '@apollo/server';
import { ApolloServerPluginInlineTraceDisabled } from '@apollo/server/plugin/disabled';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { printSchemaWithDirectives } from '@graphql-tools/utils';
import { buildSchema, createResolversMap, type NonEmptyArray, type PubSub } from 'type-graphql';
import gql from 'graphql-tag';
import type { GraphQLSchema } from 'graphql';
import { IDENTITY_HEADER, verifyIdentity, type Identity } from './identity';
import { closeServer, listen, readBody, runApollo, sendJson } from './http';
import { codedError } from './errors';
import { serveSubscriptions } from './subgraph-ws';

export interface SubgraphContext {
  identity: Identity;
}

export interface SubgraphDefinition {
  name: string;
  // eslint-disable-next-line @typescript-eslint/ban-types
  resolvers: NonEmptyArray<Function>;
  /** `__resolveReference` (and other hand-written) resolvers merged over type-graphql's. */
  referenceResolvers?: Record<string, Record<string, unknown>>;
  federationImports?: string[];
  /** Entity types no query returns (e.g. another subgraph's entity this one extends by key). */
  // eslint-disable-next-line @typescript-eslint/ban-types
  orphanedTypes?: Function[];
}

/** type-graphql refuses a @Subscription without a PubSub, although each of ours brings its own `subscribe`. */
const NO_PUBSUB: PubSub = {
  publish() { throw new Error('subscriptions here are fed by platform/live-feed.ts, not a PubSub'); },
  subscribe() { throw new Error('every @Subscription must pass its own `subscribe` function'); },
};

/** Builds a federation 2 subgraph schema from type-graphql resolvers. */
export async function buildFederatedSchema(def: SubgraphDefinition): Promise<GraphQLSchema> {
  const schema = await buildSchema({ resolvers: def.resolvers, orphanedTypes: def.orphanedTypes, skipCheck: true, validate: false, pubSub: NO_PUBSUB });
  const imports = (def.federationImports ?? ['@key', '@shareable', '@external']).map((d) => `"${d}"`).join(', ');
  const typeDefs = gql`
    extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: [${imports}])
    ${printSchemaWithDirectives(schema)}
  `;
  const resolvers = createResolversMap(schema) as Record<string, Record<string, unknown>>;
  for (const [type, extra] of Object.entries(def.referenceResolvers ?? {})) resolvers[type] = { ...(resolvers[type] ?? {}), ...extra };
  return buildSubgraphSchema({ typeDefs, resolvers: resolvers as never });
}

export interface RunningSubgraph {
  url: string;
  server: Server;
  stop(): Promise<void>;
}

/**
 * Serves a subgraph over HTTP, and its subscriptions over graphql-ws on the same port (platform/subgraph-ws.ts).
 * Every GraphQL request must carry the gateway's signed identity header; `GET /health` answers without it so the
 * gateway can check readiness, with the open subscriptions and sockets.
 */
export async function serveSubgraph<C extends SubgraphContext>(opts: {
  schema: GraphQLSchema;
  port: number;
  internalSecret: string;
  maxBodyBytes: number;
  context: (identity: Identity) => C;
}): Promise<RunningSubgraph> {
  const apollo = new ApolloServer<C>({
    schema: opts.schema,
    includeStacktraceInErrorResponses: false,
    stopOnTerminationSignals: false, // the process owner decides when to stop
    plugins: [ApolloServerPluginInlineTraceDisabled()],
  });
  await apollo.start();
  const server = createServer(async (req, res) => {
    try {
      if (req.url === '/health') return sendJson(res, 200, { status: 'ok', ...subscriptions.stats() });
      const identity = verifyIdentity(req.headers[IDENTITY_HEADER] as string | undefined, opts.internalSecret);
      if (!identity) {
        const err = codedError('UNAUTHENTICATED', 'missing or invalid internal identity signature');
        return sendJson(res, 401, { errors: [err.toJSON()] });
      }
      const body = await readBody(req, opts.maxBodyBytes);
      await runApollo(apollo, req, res, body, async () => opts.context(identity));
    } catch (err) {
      if (!res.headersSent) sendJson(res, 500, { errors: [{ message: (err as Error).message, extensions: { code: 'INTERNAL_SERVER_ERROR' } }] });
      else res.end();
    }
  });
  const subscriptions = serveSubscriptions(server, {
    schema: opts.schema, internalSecret: opts.internalSecret, maxMessageBytes: opts.maxBodyBytes, context: opts.context,
  });
  await listen(server, opts.port);
  return {
    url: `http://127.0.0.1:${opts.port}/graphql`,
    server,
    async stop() {
      await subscriptions.close();
      await closeServer(server);
      await apollo.stop();
    },
  };
}
