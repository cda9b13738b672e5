import { GraphQLError, type ExecutionResult } from 'graphql';
import type { ApolloServer } from '@apollo/server';
import type { GatewayContext } from '../data-source';
import { asGraphQLError, type SubscriptionBridge } from './bridge';
import type { ClientStream } from './client-stream';
import type { PlannedOperation } from './planner';
import type { Session, SessionLimits } from './session';

export interface OperationPayload {
  query: string;
  variables?: Record<string, unknown> | null;
  operationName?: string | null;
}

/** What WebSocket and SSE clients send: subscriptions go through the bridge, queries and mutations through Apollo. */
export class StreamingOperations {
  constructor(private bridge: SubscriptionBridge, private apollo: ApolloServer<GatewayContext>, private limits: SessionLimits) {}

  prepare(payload: OperationPayload): PlannedOperation | readonly GraphQLError[] {
    if (typeof payload?.query !== 'string') return [new GraphQLError('query must be a string', { extensions: { code: 'BAD_REQUEST' } })];
    return this.bridge.prepare(payload.query, payload.operationName);
  }

  async run(session: Session, planned: PlannedOperation, payload: OperationPayload): Promise<ExecutionResult | ClientStream> {
    if (planned.operation.operation !== 'subscription') {
      const res = await this.apollo.executeOperation(
        { query: payload.query, variables: payload.variables ?? undefined, operationName: payload.operationName ?? undefined },
        { contextValue: { identity: session.identity } },
      );
      if (res.body.kind !== 'single') return { errors: [new GraphQLError('incremental delivery is not supported here')] };
      const r = res.body.singleResult;
      return { data: r.data as ExecutionResult['data'], ...(r.errors?.length ? { errors: r.errors.map((e) => asGraphQLError(e)) } : {}) };
    }
    if (session.streams.size >= this.limits.maxSubscriptionsPerConnection) {
      return { errors: [new GraphQLError(`at most ${this.limits.maxSubscriptionsPerConnection} subscriptions per connection`, { extensions: { code: 'SUBSCRIPTION_LIMIT', limit: this.limits.maxSubscriptionsPerConnection } })] };
    }
    let stream: ClientStream | undefined;
    const result = this.bridge.subscribe(session.identity, planned, payload.variables, payload.operationName, () => { if (stream) session.streams.delete(stream); });
    if (!('next' in result)) return result;
    stream = result as ClientStream;
    session.track(stream);
    return stream;
  }
}
