import { randomUUID } from 'node:crypto';
import { GraphQLError, type ExecutionResult, type GraphQLSchema } from 'graphql';
import { buildOperationContext, executeQueryPlan, type GraphQLDataSource, type ServiceMap } from '@apollo/gateway';
import type { FetchNode, PlanNode, QueryPlan, SubscriptionNode } from '@apollo/query-planner';
import type { GatewayGraphQLRequestContext } from '@apollo/server-gateway-interface';
import { signIdentity, type Identity } from '../../platform/identity';
import { ClientStream } from './client-stream';
import { SubscriptionPlanner, type PlannedOperation } from './planner';
import { UpstreamConnections } from './upstream';

export interface BridgeOptions {
  internalSecret: string;
  wsUrlOf(service: string): string;
  /** The gateway's own data sources, for the entity fetches of each event. */
  dataSourceOf(service: string): GraphQLDataSource | undefined;
  maxQueuedPerClient: number;
}

/** Clients with the same tenant, document and variables share one upstream subscription and one execution per event. */
interface SharedSubscription {
  key: string;
  planned: PlannedOperation;
  planner: SubscriptionPlanner;
  variables: Record<string, unknown>;
  operationName?: string;
  identity: Identity;
  clients: Set<ClientStream>;
  dispose?: () => void;
  /** Events are executed one after another so that clients see them in upstream order. */
  chain: Promise<void>;
}

const EVENT_SOURCE = '__subscription_event__';

export function asGraphQLError(err: unknown, code = 'INTERNAL_SERVER_ERROR'): GraphQLError {
  if (err instanceof GraphQLError) return err;
  if (err && typeof err === 'object' && 'message' in err) {
    const e = err as { message: string; extensions?: Record<string, unknown>; path?: (string | number)[] };
    return new GraphQLError(e.message, { path: e.path, extensions: e.extensions ?? { code } });
  }
  return new GraphQLError(String(err), { extensions: { code } });
}

/**
 * Federated subscriptions: the query planner splits a subscription into a primary fetch (opened over graphql-ws on
 * the subgraph that owns the field) and the rest of the plan, which the gateway's executeQueryPlan runs for every
 * event with the primary re-pointed at a data source that returns that event.
 */
export class SubscriptionBridge {
  private planner?: SubscriptionPlanner;
  private shared = new Map<string, SharedSubscription>();
  private upstream: UpstreamConnections;

  constructor(private opts: BridgeOptions) {
    this.upstream = new UpstreamConnections(opts.wsUrlOf, opts.internalSecret);
  }

  /** Loads (or reloads) the supergraph; subscriptions of the previous one end with a retryable error. */
  setSupergraph(sdl: string): void {
    const previous = this.planner;
    this.planner = new SubscriptionPlanner(sdl);
    if (previous) this.endAll(new GraphQLError('the supergraph was reloaded; subscribe again (with since to resume)', { extensions: { code: 'SUPERGRAPH_RELOADED', retryable: true } }));
  }

  get apiSchema(): GraphQLSchema | undefined {
    return this.planner?.apiGraphQLSchema;
  }

  prepare(query: string, operationName?: string | null): PlannedOperation | readonly GraphQLError[] {
    if (!this.planner) return [new GraphQLError('the supergraph is not loaded yet', { extensions: { code: 'SERVICE_UNAVAILABLE', retryable: true } })];
    return this.planner.prepare(query, operationName);
  }

  subscribe(identity: Identity, planned: PlannedOperation, variables: Record<string, unknown> | null | undefined, operationName: string | null | undefined, onEnd?: () => void): ClientStream | ExecutionResult {
    const node = planned.plan.node;
    if (node?.kind !== 'Subscription' || !this.planner) return { errors: [new GraphQLError('not a subscription', { extensions: { code: 'BAD_USER_INPUT' } })] };
    const vars = variables ?? {};
    const key = JSON.stringify([identity.tenantId, operationName ?? null, planned.key, vars]);
    let entry = this.shared.get(key);
    if (!entry) {
      entry = {
        key, planned, planner: this.planner, variables: vars, operationName: operationName ?? undefined, clients: new Set(), chain: Promise.resolve(),
        identity: { tenantId: identity.tenantId, subject: 'gateway:subscriptions', kind: 'system', scopes: [], correlationId: randomUUID() },
      };
      this.shared.set(key, entry);
      this.open(entry, node);
    }
    const shared = entry;
    const stream = new ClientStream(this.opts.maxQueuedPerClient, () => { this.leave(shared, stream); onEnd?.(); });
    shared.clients.add(stream);
    return stream;
  }

  stats() {
    let clients = 0;
    for (const s of this.shared.values()) clients += s.clients.size;
    return { shared: this.shared.size, clients, upstream: this.upstream.openSubscriptions, cachedPlans: this.planner?.cachedPlans ?? 0 };
  }

  async close(): Promise<void> {
    this.endAll(new GraphQLError('the gateway is shutting down; subscribe again', { extensions: { code: 'SHUTTING_DOWN', retryable: true } }));
    await this.upstream.close();
  }

  private open(entry: SharedSubscription, node: SubscriptionNode): void {
    const primary = node.primary;
    const variables = Object.fromEntries((primary.variableUsages ?? []).filter((v) => v in entry.variables).map((v) => [v, entry.variables[v]]));
    entry.dispose = this.upstream.subscribe(primary.serviceName, {
      query: primary.operation, operationName: primary.operationName, variables,
      extensions: { identity: signIdentity(entry.identity, this.opts.internalSecret) },
    }, {
      next: (event) => { entry.chain = entry.chain.then(() => this.deliver(entry, node, event as ExecutionResult)); },
      error: (err) => {
        const reason = err instanceof Error ? err.message : Array.isArray(err) ? err.map((e) => e.message).join('; ') : (err as { reason?: string; code?: number })?.reason || `code ${(err as { code?: number })?.code ?? 'unknown'}`;
        const errors = Array.isArray(err) ? err : null;
        // Errors for the operation itself (e.g. a bad `since`) are the client's to see as they are.
        const error = errors?.length
          ? asGraphQLError(errors[0], 'BAD_USER_INPUT')
          : new GraphQLError(`the ${primary.serviceName} subgraph closed the subscription (${reason}); subscribe again with since to resume`, { extensions: { code: 'SUBSCRIPTION_UPSTREAM_CLOSED', retryable: true, service: primary.serviceName } });
        void entry.chain.then(() => this.finish(entry, error));
      },
      complete: () => { void entry.chain.then(() => this.finish(entry)); },
    });
  }

  private async deliver(entry: SharedSubscription, node: SubscriptionNode, event: ExecutionResult): Promise<void> {
    if (entry.clients.size === 0) return;
    const result = await this.execute(entry, node, event);
    for (const client of entry.clients) client.push(result);
  }

  private async execute(entry: SharedSubscription, node: SubscriptionNode, event: ExecutionResult): Promise<ExecutionResult> {
    const primary: FetchNode = { ...node.primary, serviceName: EVENT_SOURCE };
    const root: PlanNode = node.rest ? { kind: 'Sequence', nodes: [primary, node.rest] } : primary;
    const queryPlan: QueryPlan = { kind: 'QueryPlan', node: root };
    const eventSource = { process: async () => ({ data: event.data ?? null, errors: event.errors }) } as unknown as GraphQLDataSource;
    const serviceMap: ServiceMap = new Proxy({} as ServiceMap, {
      get: (_, name: string) => (name === EVENT_SOURCE ? eventSource : this.opts.dataSourceOf(name)),
    });
    const operationContext = buildOperationContext({ schema: entry.planner.apiGraphQLSchema, operationDocument: entry.planned.document, operationName: entry.operationName });
    const requestContext = {
      request: { query: entry.planned.key, variables: entry.variables, operationName: entry.operationName },
      context: { identity: entry.identity },
      document: entry.planned.document,
      operationName: entry.operationName ?? null,
      logger: console,
      metrics: {},
    } as unknown as GatewayGraphQLRequestContext;
    try {
      const r = await executeQueryPlan(queryPlan, serviceMap, requestContext, operationContext, entry.planner.supergraphSchema, entry.planner.apiSchema);
      return { data: r.data ?? null, ...(r.errors?.length ? { errors: r.errors.map((e) => asGraphQLError(e)) } : {}) };
    } catch (err) {
      return { errors: [asGraphQLError(err)] };
    }
  }

  private leave(entry: SharedSubscription, client: ClientStream): void {
    entry.clients.delete(client);
    if (entry.clients.size === 0 && this.shared.get(entry.key) === entry) {
      this.shared.delete(entry.key);
      entry.dispose?.();
    }
  }

  private finish(entry: SharedSubscription, error?: GraphQLError): void {
    if (this.shared.get(entry.key) === entry) this.shared.delete(entry.key);
    for (const client of [...entry.clients]) (error ? client.fail(error) : client.end());
    entry.clients.clear();
  }

  private endAll(error: GraphQLError): void {
    for (const entry of [...this.shared.values()]) {
      entry.dispose?.();
      this.finish(entry, error);
    }
  }
}
