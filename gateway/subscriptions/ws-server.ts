import type { IncomingMessage, Server } from 'node:http';
import { randomUUID } from 'node:crypto';
import { WebSocketServer, type WebSocket } from 'ws';
import { useServer } from 'graphql-ws/use/ws';
import type { ExecutionArgs } from 'graphql';
import { AuthError, type Authenticator } from '../auth';
import { Session, TenantConnections, type Credentials, type SessionLimits } from './session';
import type { OperationPayload, StreamingOperations } from './operations';
import type { PlannedOperation } from './planner';

/** graphql-ws close codes we use beyond the protocol's own. */
export const CLOSE = { UNAUTHORIZED: 4401, FORBIDDEN: 4403, TOO_MANY_CONNECTIONS: 4429 } as const;

interface ConnectionState {
  session?: Session;
}

type Extra = { socket: WebSocket; request: IncomingMessage; state?: ConnectionState };

/** Credentials from `connection_init`: `{ authorization: "Bearer …" }` or `{ apiKey }` (also `x-api-key`, `token`). */
function credentialsOf(params: Record<string, unknown> | undefined): Credentials {
  const p = params ?? {};
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  const token = str(p.token);
  return {
    authorization: str(p.authorization) ?? str(p.Authorization) ?? (token ? `Bearer ${token}` : undefined),
    apiKey: str(p.apiKey) ?? str(p['x-api-key']) ?? str(p['X-API-Key']),
  };
}

/** GraphQL over WebSocket (graphql-transport-ws) on the gateway's own HTTP server and path. */
export function attachWebSocketServer(opts: { server: Server; path: string; auth: Authenticator; operations: StreamingOperations; limits: SessionLimits; tenants: TenantConnections }) {
  const wss = new WebSocketServer({ noServer: true });
  opts.server.on('upgrade', (req, socket, head) => {
    if ((req.url ?? '').split('?')[0] !== opts.path) {
      socket.destroy();
      return;
    }
    wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, req));
  });

  const graphqlWs = useServer<Record<string, unknown>, Extra>({
    onConnect: async (ctx) => {
      const state: ConnectionState = {};
      ctx.extra.state = state;
      const socket = ctx.extra.socket;
      try {
        state.session = await Session.open(opts.auth, credentialsOf(ctx.connectionParams), randomUUID(), opts.limits, (reason) => {
          setTimeout(() => socket.close(CLOSE.UNAUTHORIZED, reason.slice(0, 100)), 50).unref();
        });
      } catch (err) {
        if (!(err instanceof AuthError)) throw err;
        socket.close(err.code === 'FORBIDDEN' ? CLOSE.FORBIDDEN : CLOSE.UNAUTHORIZED, err.message.slice(0, 100));
        return false;
      }
      if (!opts.tenants.tryAcquire(state.session.identity.tenantId)) {
        state.session.close();
        state.session = undefined;
        socket.close(CLOSE.TOO_MANY_CONNECTIONS, 'too many connections for this tenant');
        return false;
      }
      return true;
    },
    onSubscribe: (ctx, _id, payload) => {
      const planned = opts.operations.prepare(payload as OperationPayload);
      if (Array.isArray(planned)) return planned;
      const p = planned as PlannedOperation;
      return { schema: undefined, document: p.document, operationName: payload.operationName, variableValues: payload.variables, contextValue: { planned: p, payload, session: ctx.extra.state?.session } } as unknown as ExecutionArgs;
    },
    execute: (args) => run(args),
    subscribe: (args) => run(args),
    onClose: (ctx) => {
      const session = ctx.extra.state?.session;
      if (!session) return;
      session.close();
      opts.tenants.release(session.identity.tenantId);
    },
  }, wss);

  function run(args: ExecutionArgs) {
    const { planned, payload, session } = args.contextValue as { planned: PlannedOperation; payload: OperationPayload; session: Session };
    return opts.operations.run(session, planned, payload) as never;
  }

  return {
    wss,
    get connections() { return wss.clients.size; },
    async close() {
      await graphqlWs.dispose();
    },
  };
}
