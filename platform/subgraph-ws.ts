import type { Server } from 'node:http';
import { WebSocketServer, type WebSocket } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import { getOperationAST, GraphQLError, parse, validate, type DocumentNode, type GraphQLSchema } from 'graphql';
import { verifyIdentity, type Identity } from './identity';
import { codedError } from './errors';

export interface SubscriptionServer {
  /** Subscription operations in progress and open sockets (GET /health). */
  stats(): { subscriptions: number; sockets: number };
  /** Closes every socket (1001, so clients may retry elsewhere) and stops accepting new ones. */
  close(): Promise<void>;
}

const asString = (v: unknown) => (typeof v === 'string' ? v : undefined);

/**
 * graphql-ws (`graphql-transport-ws`) on the subgraph's own HTTP server, at /graphql. The connection must present
 * the gateway's signed identity in `connection_init` ({ identity }), otherwise it is closed with 4403; each
 * subscription carries its subscriber's signed identity in `extensions.identity` and runs under that identity.
 * Only subscriptions are served here: queries and mutations go over HTTP.
 */
export function serveSubscriptions<C>(server: Server, opts: {
  schema: GraphQLSchema;
  internalSecret: string;
  maxMessageBytes: number;
  context: (identity: Identity) => C;
}): SubscriptionServer {
  const wss = new WebSocketServer({ server, path: '/graphql', maxPayload: opts.maxMessageBytes });
  // graphql-ws gives each socket one context object: the ids of its accepted subscriptions, per socket.
  const operations = new Map<object, Set<string>>();

  useServer({
    schema: opts.schema,
    onConnect: (ctx) => verifyIdentity(asString(ctx.connectionParams?.identity), opts.internalSecret) !== null,
    onSubscribe: (ctx, id, payload) => {
      const identity = verifyIdentity(asString(payload.extensions?.identity), opts.internalSecret);
      if (!identity) return [codedError('UNAUTHENTICATED', 'missing or invalid subscriber identity (extensions.identity)')];
      let document: DocumentNode;
      try {
        document = parse(payload.query);
      } catch (err) {
        return [err instanceof GraphQLError ? err : new GraphQLError(String(err))];
      }
      const errors = validate(opts.schema, document);
      if (errors.length > 0) return errors;
      const operation = getOperationAST(document, payload.operationName);
      if (!operation) return [codedError('BAD_REQUEST', 'the document names no single operation to run')];
      if (operation.operation !== 'subscription') return [codedError('BAD_REQUEST', 'only subscriptions are served over WebSocket; send queries and mutations over HTTP')];
      const ids = operations.get(ctx) ?? new Set();
      operations.set(ctx, ids.add(id));
      return {
        schema: opts.schema, document, operationName: payload.operationName, variableValues: payload.variables,
        contextValue: opts.context(identity),
      };
    },
    onComplete: (ctx, id) => { operations.get(ctx)?.delete(id); },
    onClose: (ctx) => { operations.delete(ctx); },
  }, wss);

  return {
    stats() {
      let subscriptions = 0;
      for (const ids of operations.values()) subscriptions += ids.size;
      return { subscriptions, sockets: wss.clients.size };
    },
    async close() {
      const sockets = [...wss.clients];
      const closed = sockets.map((ws) => new Promise<void>((res) => {
        if (ws.readyState === ws.CLOSED) return res();
        ws.once('close', () => res());
        ws.close(1001, 'subgraph shutting down');
      }));
      // A peer that does not answer the close handshake is cut off instead of holding up the shutdown.
      const timer = setTimeout(() => sockets.forEach((ws: WebSocket) => ws.terminate()), 1000);
      await Promise.all(closed);
      clearTimeout(timer);
      await new Promise<void>((res) => wss.close(() => res()));
    },
  };
}
