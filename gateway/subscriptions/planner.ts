import { parse, print, validate, getOperationAST, GraphQLError, type DocumentNode, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import { Supergraph, operationFromDocument, type Schema } from '@apollo/federation-internals';
import { QueryPlanner, type QueryPlan } from '@apollo/query-planner';

export interface PlannedOperation {
  document: DocumentNode;
  operation: OperationDefinitionNode;
  /** Canonical text of the document: the plan cache key and part of the sharing key. */
  key: string;
  plan: QueryPlan;
}

const MAX_CACHED_PLANS = 1000;

/** One supergraph's schemas and query planner, with plans cached per document + operation name. */
export class SubscriptionPlanner {
  readonly supergraphSchema: GraphQLSchema;
  readonly apiSchema: Schema;
  readonly apiGraphQLSchema: GraphQLSchema;
  private planner: QueryPlanner;
  private plans = new Map<string, PlannedOperation>();

  constructor(supergraphSdl: string) {
    const supergraph = Supergraph.build(supergraphSdl);
    this.supergraphSchema = supergraph.schema.toGraphQLJSSchema();
    this.apiSchema = supergraph.apiSchema();
    this.apiGraphQLSchema = this.apiSchema.toGraphQLJSSchema();
    this.planner = new QueryPlanner(supergraph);
  }

  /** Parses, validates and plans a document; returns the GraphQL errors a client should see instead when it is not valid. */
  prepare(query: string | DocumentNode, operationName?: string | null): PlannedOperation | readonly GraphQLError[] {
    const cacheKey = `${operationName ?? ''}\n${typeof query === 'string' ? query : print(query)}`;
    const cached = this.plans.get(cacheKey);
    if (cached) {
      this.plans.delete(cacheKey); // re-insert: least recently used stays first
      this.plans.set(cacheKey, cached);
      return cached;
    }
    let document: DocumentNode;
    try {
      document = typeof query === 'string' ? parse(query) : query;
    } catch (err) {
      return [err instanceof GraphQLError ? err : new GraphQLError(String(err))];
    }
    const errors = validate(this.apiGraphQLSchema, document);
    if (errors.length > 0) return errors.map((e) => new GraphQLError(e.message, { nodes: e.nodes, extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } }));
    const operation = getOperationAST(document, operationName ?? undefined);
    if (!operation) return [new GraphQLError('the document must name one operation (operationName)', { extensions: { code: 'BAD_USER_INPUT' } })];
    let plan: QueryPlan;
    try {
      plan = this.planner.buildQueryPlan(operationFromDocument(this.apiSchema, document, { operationName: operationName ?? undefined }));
    } catch (err) {
      return [new GraphQLError(`cannot plan this operation: ${(err as Error).message}`, { extensions: { code: 'GRAPHQL_VALIDATION_FAILED' } })];
    }
    const planned = { document, operation, key: print(document), plan };
    this.plans.set(cacheKey, planned);
    if (this.plans.size > MAX_CACHED_PLANS) this.plans.delete(this.plans.keys().next().value!);
    return planned;
  }

  get cachedPlans(): number {
    return this.plans.size;
  }
}
