/** EXPERIMENT baseline: gateway/data-source.ts as it was before issue 5 (stock RemoteGraphQLDataSource fetch stack). */
import { RemoteGraphQLDataSource } from '@apollo/gateway';
import { IDENTITY_HEADER, signIdentity, type Identity } from '../../platform/identity';

export interface GatewayContext {
  identity: Identity;
}

/** Forwards the verified identity (signed) and the correlation id to every subgraph call. */
export class IdentityForwardingDataSource extends RemoteGraphQLDataSource<GatewayContext> {
  constructor(url: string, private internalSecret: string) { super({ url }); }

  override willSendRequest({ request, context }: Parameters<NonNullable<RemoteGraphQLDataSource<GatewayContext>['willSendRequest']>>[0]): void {
    const identity = (context as Partial<GatewayContext>).identity;
    if (!identity) return; // health checks and schema loading carry no identity; subgraphs refuse them
    request.http!.headers.set(IDENTITY_HEADER, signIdentity(identity, this.internalSecret));
    request.http!.headers.set('x-correlation-id', identity.correlationId);
  }
}
