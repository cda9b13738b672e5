import { Arg, Ctx, Directive, Field, ID, InputType, Int, Mutation, ObjectType, Query, Resolver, registerEnumType } from 'type-graphql';
import { GraphQLJSON } from 'graphql-scalars';
import type { SubgraphContext } from '../../platform/subgraph-server';
import type { Database } from '../../platform/db';
import { RecordRow } from './entities';
import { encodeCursor, findRecord, ingestBatch, ingestOne, listRecords, type Limits } from './service';

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
    const { rows, hasNextPage } = await listRecords(ctx.db.em(), ctx.identity, filter ?? {}, first, after);
    const edges = rows.map((row) => ({ cursor: encodeCursor(row.seq), node: toRecordType(row) }));
    return { edges, pageInfo: { hasNextPage, endCursor: edges.length ? edges[edges.length - 1].cursor : null } };
  }
}
