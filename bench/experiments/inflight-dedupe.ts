/**
 * EXPERIMENT (proposed as gateway/inflight-dedupe.ts): an Apollo Server plugin that merges identical
 * *incoming* queries while one of them executes — same caller (tenant, subject, kind, scopes, source; not the
 * correlation id), same document, operation name and variables. The first executes; the others get a copy of
 * its result without executing. Mutations and subscriptions always execute. Hive Gateway has the same feature
 * (`inboundInflightRequestDeduplication`, off by default there).
 */
import { HeaderMap, type ApolloServerPlugin, type GraphQLRequestContext } from '@apollo/server';
import type { FormattedExecutionResult } from 'graphql';
import type { Identity } from '../../platform/identity';

interface Shared { result: FormattedExecutionResult; status?: number; headers: [string, string][] }

const callerKey = (i: Identity) => `${i.tenantId}\u0000${i.subject}\u0000${i.kind}\u0000${i.scopes.join(' ')}\u0000${i.source ?? ''}`;

export function inflightDedupePlugin<C extends { identity?: Identity }>(): ApolloServerPlugin<C> {
  const inflight = new Map<string, Promise<Shared | null>>();
  return {
    async requestDidStart() {
      let leaderKey: string | undefined;
      let settle: ((s: Shared | null) => void) | undefined;
      const finish = (rc: GraphQLRequestContext<C>) => {
        if (!settle) return;
        const body = rc.response.body;
        settle(body?.kind === 'single' ? { result: body.singleResult, status: rc.response.http.status, headers: [...rc.response.http.headers] } : null);
        inflight.delete(leaderKey!);
        settle = undefined;
      };
      return {
        async responseForOperation(rc) {
          const identity = rc.contextValue.identity;
          if (rc.operation?.operation !== 'query' || !identity) return null;
          const key = `${callerKey(identity)}\u0001${rc.queryHash}\u0001${rc.operationName ?? ''}\u0001${JSON.stringify(rc.request.variables ?? {})}`;
          const running = inflight.get(key);
          if (running) {
            const shared = await running;
            if (!shared) return null; // the first one failed in an unusual way: execute this one
            return { http: { status: shared.status, headers: new HeaderMap(shared.headers) }, body: { kind: 'single', singleResult: shared.result } };
          }
          leaderKey = key;
          inflight.set(key, new Promise((res) => { settle = res; }));
          return null;
        },
        async willSendResponse(rc) { finish(rc); },
        async didEncounterErrors(rc) { if (!rc.response.body) { settle?.(null); if (leaderKey) inflight.delete(leaderKey); settle = undefined; } },
      };
    },
  };
}
