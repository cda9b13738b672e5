import { GraphQLError } from 'graphql';
import type { ApolloServerPlugin } from '@apollo/server';

/** A subscription sent as a plain HTTP request gets a clear 400 naming the transports that carry it, not a 500. */
export function subscriptionsNeedAStream(): ApolloServerPlugin {
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ operation }) {
          if (operation?.operation !== 'subscription') return;
          throw new GraphQLError(
            'subscriptions need a stream: connect a WebSocket to /graphql (protocol graphql-transport-ws) or send the request with "Accept: text/event-stream" (GraphQL over SSE)',
            { extensions: { code: 'SUBSCRIPTION_TRANSPORT_REQUIRED', transports: ['graphql-transport-ws', 'graphql-sse'], http: { status: 400 } } },
          );
        },
      };
    },
  };
}
