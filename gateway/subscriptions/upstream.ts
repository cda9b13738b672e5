import { createClient, type Client, type Sink, type SubscribePayload } from 'graphql-ws';
import WebSocket from 'ws';
import { randomUUID } from 'node:crypto';
import { signIdentity } from '../../platform/identity';

/**
 * One graphql-ws connection per subgraph, opened on the first subscription and closed when the last one ends.
 * The connection proves it is the gateway; each subscription carries its subscriber's signed identity.
 * No automatic retries: when a subgraph goes away its subscriptions end with a retryable error instead.
 */
export class UpstreamConnections {
  private clients = new Map<string, Client>();
  private active = new Map<string, number>();

  constructor(private wsUrlOf: (service: string) => string, private internalSecret: string) {}

  subscribe(service: string, payload: SubscribePayload, sink: Sink): () => void {
    const client = this.client(service);
    this.active.set(service, (this.active.get(service) ?? 0) + 1);
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      this.active.set(service, (this.active.get(service) ?? 1) - 1);
    };
    const dispose = client.subscribe(payload, {
      next: (v) => sink.next(v),
      error: (e) => { finish(); sink.error(e); },
      complete: () => { finish(); sink.complete(); },
    });
    return () => { finish(); dispose(); };
  }

  get openSubscriptions(): number {
    return [...this.active.values()].reduce((a, b) => a + b, 0);
  }

  async close(): Promise<void> {
    await Promise.all([...this.clients.values()].map((c) => c.dispose()));
    this.clients.clear();
  }

  private client(service: string): Client {
    let client = this.clients.get(service);
    if (!client) {
      client = createClient({
        url: this.wsUrlOf(service),
        webSocketImpl: WebSocket,
        lazy: true,
        lazyCloseTimeout: 0,
        retryAttempts: 0,
        keepAlive: 10_000,
        connectionParams: () => ({
          identity: signIdentity({ tenantId: '', subject: 'gateway', kind: 'system', scopes: [], correlationId: randomUUID() }, this.internalSecret),
        }),
      });
      this.clients.set(service, client);
    }
    return client;
  }
}
