import { Arg, Args, ArgsType, Ctx, Directive, Field, FieldResolver, ID, InputType, Int, ObjectType, Query, Resolver, Root, Subscription, type SubscribeResolverData } from 'type-graphql';
import { GraphQLJSON } from 'graphql-scalars';
import type { SubgraphContext } from '../../platform/subgraph-server';
import type { Database } from '../../platform/db';
import { page as pageOf } from '../../platform/pagination';
import { listEvents } from './service';
import type { LiveHub } from '../../platform/live-feed';
import { subscribeAuditEvents, type StoredAuditEvent } from './event-stream';

export interface AuditContext extends SubgraphContext {
  db: Database;
  /** This process's live stored events, fed from `audit.chained`. */
  events: LiveHub<StoredAuditEvent>;
  maxBufferedEvents: number;
}

@ObjectType('AuditEvent', { description: 'A CloudEvents 1.0 audit event, chained per tenant with SHA-256' })
@Directive('@key(fields: "id")')
export class AuditEventType {
  @Field(() => ID) id!: string;
  @Field() source!: string;
  @Field() type!: string;
  @Field() specversion!: string;
  @Field() time!: Date;
  @Field() subject!: string;
  @Field() tenantId!: string;
  @Field() actor!: string;
  @Field() correlationId!: string;
  @Field() action!: string;
  @Field(() => GraphQLJSON, { nullable: true }) data?: unknown;
  @Field(() => String, { nullable: true, description: 'hash of the previous event of this tenant' }) prevHash?: string | null;
  @Field({ description: 'SHA-256 over prevHash and this event\'s canonical JSON' }) hash!: string;
}

/** The records subgraph's entity, declared here by key so a record can list its audit events. */
@ObjectType('Record')
@Directive('@key(fields: "id")')
export class RecordReference {
  @Field(() => ID) id!: string;
}

/** The flow-runs subgraph's entity, declared here by key so a run can list its audit events. */
@ObjectType('Run')
@Directive('@key(fields: "id")')
export class RunReference {
  @Field(() => ID) id!: string;
}

@InputType()
class AuditFilter {
  @Field(() => String, { nullable: true }) type?: string | null;
  @Field(() => String, { nullable: true }) subject?: string | null;
  @Field(() => String, { nullable: true }) correlationId?: string | null;
  @Field(() => Date, { nullable: true }) from?: Date | null;
  @Field(() => Date, { nullable: true }) to?: Date | null;
}

@ObjectType()
class AuditEventEdge {
  @Field() cursor!: string;
  @Field(() => AuditEventType) node!: AuditEventType;
}

@ObjectType('AuditPageInfo')
class AuditPageInfo {
  @Field() hasNextPage!: boolean;
  @Field(() => String, { nullable: true }) endCursor!: string | null;
}

@ObjectType()
class AuditEventConnection {
  @Field(() => [AuditEventEdge]) edges!: AuditEventEdge[];
  @Field(() => AuditPageInfo) pageInfo!: AuditPageInfo;
}

async function page(ctx: AuditContext, filter: AuditFilter, first: number, after: string | null): Promise<AuditEventConnection> {
  const rows = await listEvents(ctx.db.em(), ctx.identity, filter, first, after);
  return pageOf(rows as unknown as (AuditEventType & { seq: string })[], first, 'a');
}

@Resolver(() => AuditEventType)
export class AuditResolver {
  @Query(() => AuditEventConnection, { description: 'Audit events of the caller\'s tenant, oldest first' })
  async auditEvents(
    @Arg('filter', () => AuditFilter, { nullable: true }) filter: AuditFilter | null,
    @Arg('first', () => Int, { defaultValue: 100 }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: AuditContext,
  ): Promise<AuditEventConnection> {
    return page(ctx, filter ?? {}, first, after);
  }
}

@Resolver(() => RecordReference)
export class RecordAuditResolver {
  @FieldResolver(() => [AuditEventType], { nullable: true, description: 'Audit events whose subject is this record (null while the audit subgraph is unavailable)' })
  async auditEvents(@Root() record: RecordReference, @Ctx() ctx: AuditContext): Promise<AuditEventType[]> {
    return (await page(ctx, { subject: record.id }, 1000, null)).edges.map((e) => e.node);
  }
}

@Resolver(() => RunReference)
export class RunAuditResolver {
  @FieldResolver(() => [AuditEventType], { nullable: true, description: 'Audit events whose subject is this run (created, status changes, cancel, retry, policy)' })
  async auditEvents(@Root() run: RunReference, @Ctx() ctx: AuditContext): Promise<AuditEventType[]> {
    return (await page(ctx, { subject: run.id }, 1000, null)).edges.map((e) => e.node);
  }
}

@InputType()
class AuditEventStreamFilter {
  @Field(() => [String], { nullable: true, description: 'any of these types' }) types?: string[] | null;
  @Field(() => String, { nullable: true }) subject?: string | null;
  @Field(() => String, { nullable: true }) correlationId?: string | null;
}

@ArgsType()
class AuditEventsStreamArgs {
  @Field(() => AuditEventStreamFilter, { nullable: true }) filter?: AuditEventStreamFilter | null;
  @Field(() => String, { nullable: true, description: 'the id of the last event seen: every later one is replayed first' }) since?: string | null;
}

@Resolver()
export class AuditStreamResolver {
  @Subscription(() => AuditEventType, {
    name: 'auditEvents',
    description: 'Audit events of the caller\'s tenant as they are stored (chained)',
    subscribe: ({ args, context }: SubscribeResolverData<unknown, AuditEventsStreamArgs, AuditContext>) => subscribeAuditEvents(context, context.identity, args),
  })
  auditEventStream(@Root() event: StoredAuditEvent, @Args(() => AuditEventsStreamArgs) _args: AuditEventsStreamArgs /* read by `subscribe` */): AuditEventType {
    return event as AuditEventType;
  }
}
