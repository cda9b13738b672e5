import { Arg, Ctx, Directive, Field, FieldResolver, ID, InputType, Int, Mutation, ObjectType, Query, Resolver, Root, registerEnumType } from 'type-graphql';
import { GraphQLJSON } from 'graphql-scalars';
import type { SubgraphContext } from '../../platform/subgraph-server';
import type { Database } from '../../platform/db';
import { page } from '../../platform/pagination';
import { RecordRow } from './entities';
import { findRecord, ingestBatch, ingestOne, listRecords, type Limits } from './service';

export interface RecordsContext extends SubgraphContext {
  db: Database;
  limits: Limits;
}

export enum RecordStatus { ACCEPTED = 'ACCEPTED', DUPLICATE = 'DUPLICATE', REJECTED = 'REJECTED' }
registerEnumType(RecordStatus, { name: 'RecordStatus' });

@ObjectType('Record')
@Directive('@key(fields: "id")')
export class RecordType {
  @Field(() => ID) id!: string;
  @Field() recordId!: string;
  @Field() source!: string;
  @Field() userId!: string;
  @Field(() => String, { nullable: true }) batchId?: string | null;
  @Field() correlationId!: string;
  @Field(() => String, { nullable: true, description: 'Flow run this record belongs to, when the producer sent one' }) runId?: string | null;
  @Field() timestamp!: Date;
  @Field(() => GraphQLJSON) payload!: unknown;
  @Field() checksum!: string;
  @Field() createdAt!: Date;
}

@InputType()
class RecordInput {
  @Field() recordId!: string;
  @Field() userId!: string;
  @Field({ description: 'ISO 8601 date-time with a zone' }) timestamp!: string;
  @Field(() => GraphQLJSON) payload!: unknown;
  @Field({ description: 'lowercase hex SHA-256 of the RFC 8785 canonical JSON of payload' }) checksum!: string;
  @Field(() => String, { nullable: true }) runId?: string | null;
}

@InputType()
class BatchInput {
  @Field() batchId!: string;
  @Field(() => String, { nullable: true }) correlationId?: string | null;
  @Field() source!: string;
  @Field(() => [RecordInput]) records!: RecordInput[];
  @Field(() => Boolean, { defaultValue: false, description: 'when true, one rejected record rejects the whole batch' }) atomic!: boolean;
}

@ObjectType()
class RecordResult {
  @Field() recordId!: string;
  @Field(() => RecordStatus) status!: RecordStatus;
  @Field(() => ID, { nullable: true }) id!: string | null;
  @Field(() => String, { nullable: true }) code!: string | null;
  @Field(() => String, { nullable: true }) message!: string | null;
}

@ObjectType()
class BatchResult {
  @Field() batchId!: string;
  @Field(() => Int) processed!: number;
  @Field(() => Int) duplicates!: number;
  @Field(() => Int) rejected!: number;
  @Field(() => [RecordResult]) results!: RecordResult[];
}

@ObjectType()
class IngestedRecord {
  @Field(() => ID) id!: string;
}

@InputType()
class RecordFilter {
  @Field(() => String, { nullable: true }) userId?: string | null;
  @Field(() => String, { nullable: true }) source?: string | null;
  @Field(() => String, { nullable: true }) batchId?: string | null;
  @Field(() => String, { nullable: true }) runId?: string | null;
  @Field(() => Date, { nullable: true }) from?: Date | null;
  @Field(() => Date, { nullable: true }) to?: Date | null;
  @Field(() => GraphQLJSON, { nullable: true, description: 'records whose payload contains this JSON (jsonb @>)' }) payloadContains?: unknown;
}

@ObjectType()
class RecordEdge {
  @Field() cursor!: string;
  @Field(() => RecordType) node!: RecordType;
}

@ObjectType()
@Directive('@shareable')
class PageInfo {
  @Field() hasNextPage!: boolean;
  @Field(() => String, { nullable: true }) endCursor!: string | null;
}

@ObjectType()
class RecordConnection {
  @Field(() => [RecordEdge]) edges!: RecordEdge[];
  @Field(() => PageInfo) pageInfo!: PageInfo;
}

export const toRecordType = (row: RecordRow): RecordType => row as unknown as RecordType;

/** The flow-runs subgraph's entity, declared here by key: a record may point at a run, and a run lists its records. */
@ObjectType('Run')
@Directive('@key(fields: "id")')
export class RunReference {
  @Field(() => ID) id!: string;
}

async function recordPage(ctx: RecordsContext, filter: RecordFilter, first: number, after: string | null): Promise<RecordConnection> {
  const rows = await listRecords(ctx.db.em(), ctx.identity, filter, first, after);
  return page(rows.map(toRecordType) as (RecordType & { seq: string })[], first, 'r');
}

@Resolver(() => RecordType)
export class RecordsResolver {
  @Mutation(() => BatchResult, { description: 'Stores a batch of checksummed records; one result per input record, in input order' })
  async ingestRecords(@Arg('batch', () => BatchInput) batch: BatchInput, @Ctx() ctx: RecordsContext): Promise<BatchResult> {
    return ingestBatch(ctx.db.em(), ctx.identity, batch, ctx.limits) as Promise<BatchResult>;
  }

  @Mutation(() => IngestedRecord, { description: 'The data-ingestion contract: one record, no checksum' })
  async ingestRecord(
    @Arg('userId') userId: string,
    @Arg('timestamp') timestamp: string,
    @Arg('payload', () => GraphQLJSON) payload: unknown,
    @Ctx() ctx: RecordsContext,
  ): Promise<IngestedRecord> {
    return ingestOne(ctx.db.em(), ctx.identity, { userId, timestamp, payload }, ctx.limits);
  }

  @Query(() => RecordType, { nullable: true })
  async record(@Arg('id', () => ID) id: string, @Ctx() ctx: RecordsContext): Promise<RecordType | null> {
    const row = await findRecord(ctx.db.em(), ctx.identity, id);
    return row ? toRecordType(row) : null;
  }

  @Query(() => RecordConnection)
  async records(
    @Arg('filter', () => RecordFilter, { nullable: true }) filter: RecordFilter | null,
    @Arg('first', () => Int, { defaultValue: 50 }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: RecordsContext,
  ): Promise<RecordConnection> {
    return recordPage(ctx, filter ?? {}, first, after);
  }

  @FieldResolver(() => RunReference, { nullable: true, description: 'the flow run this record belongs to' })
  run(@Root() record: RecordType): RunReference | null {
    return record.runId ? { id: record.runId } : null;
  }
}

@Resolver(() => RunReference)
export class RunRecordsResolver {
  @FieldResolver(() => RecordConnection, { nullable: true, description: 'records that producers sent with this run\'s id (null while the records subgraph is unavailable)' })
  async records(
    @Root() run: RunReference,
    @Arg('first', () => Int, { defaultValue: 50 }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: RecordsContext,
  ): Promise<RecordConnection> {
    return recordPage(ctx, { runId: run.id }, first, after);
  }
}
