import { ArgsType, Directive, Field, ID, InputType, Int, ObjectType, registerEnumType } from 'type-graphql';
import { GraphQLJSON } from 'graphql-scalars';
import { RUN_STATUSES } from './state-machine';

export enum RunStatusEnum { PENDING = 'PENDING', QUEUED = 'QUEUED', RUNNING = 'RUNNING', SUCCEEDED = 'SUCCEEDED', FAILED = 'FAILED', TIMED_OUT = 'TIMED_OUT', CANCELLING = 'CANCELLING', CANCELLED = 'CANCELLED' }
registerEnumType(RunStatusEnum, { name: 'RunStatus', description: `Lifecycle: ${RUN_STATUSES.join(', ')}` });

export enum RunOrderEnum { CREATED_AT_ASC = 'CREATED_AT_ASC', CREATED_AT_DESC = 'CREATED_AT_DESC' }
registerEnumType(RunOrderEnum, { name: 'RunOrder' });

@ObjectType('PageInfo')
@Directive('@shareable')
export class PageInfo {
  @Field() hasNextPage!: boolean;
  @Field(() => String, { nullable: true }) endCursor!: string | null;
}

@ObjectType('FlowVersion', { description: 'An immutable version of a flow definition' })
export class FlowVersionType {
  @Field(() => ID) flowId!: string;
  @Field() version!: string;
  @Field(() => GraphQLJSON, { description: '{ type: "DAG", tasks: [{ id, type, dependsOn, retries, timeoutSeconds, config }] }' }) definition!: unknown;
  @Field() createdAt!: Date;
  @Field() createdBy!: string;
  @Field(() => Date, { nullable: true }) deprecatedAt?: Date | null;
}

@ObjectType('Flow', { description: 'A registered AI-agent flow (a DAG of tasks) of the caller\'s tenant' })
@Directive('@key(fields: "id")')
export class FlowType {
  @Field(() => ID) id!: string;
  @Field() name!: string;
  @Field(() => String, { nullable: true }) description?: string | null;
  @Field() createdAt!: Date;
  @Field() createdBy!: string;
  @Field(() => Date, { nullable: true }) deprecatedAt?: Date | null;
}

@ObjectType('RunTransition', { description: 'One step of a run\'s status history' })
export class RunTransitionType {
  @Field(() => RunStatusEnum, { nullable: true }) from?: string | null;
  @Field(() => RunStatusEnum) to!: string;
  @Field() at!: Date;
  @Field() actor!: string;
  @Field(() => String, { nullable: true }) reason?: string | null;
  @Field(() => String, { nullable: true }) reportId?: string | null;
}

@ObjectType('Run', { description: 'One run of a flow' })
@Directive('@key(fields: "id")')
export class RunType {
  @Field(() => ID) id!: string;
  @Field(() => ID) flowId!: string;
  @Field({ description: 'the registry version run, or "inline" when a definition was given and no version exists' }) flowVersion!: string;
  @Field({ description: 'true when the run uses a definition given in createRun instead of the registry\'s' }) definitionOverridden!: boolean;
  @Field(() => RunStatusEnum) status!: string;
  @Field(() => GraphQLJSON, { nullable: true }) input?: unknown;
  @Field(() => GraphQLJSON, { nullable: true }) output?: unknown;
  @Field(() => GraphQLJSON, { nullable: true }) error?: unknown;
  @Field() createdBy!: string;
  @Field() createdAt!: Date;
  @Field() updatedAt!: Date;
  @Field(() => Date, { nullable: true }) startedAt?: Date | null;
  @Field(() => Date, { nullable: true }) finishedAt?: Date | null;
  @Field() correlationId!: string;
  @Field(() => String, { nullable: true }) requestId?: string | null;
  @Field(() => Int) attempts!: number;
}

@ObjectType('CreateRunResult')
export class CreateRunResult {
  @Field(() => RunType) run!: RunType;
  @Field() correlationId!: string;
  @Field({ description: 'false when an earlier request with the same requestId already created this run' }) created!: boolean;
}

@ObjectType('Webhook', { description: 'An inbound webhook that starts runs of a flow (Standard Webhooks signatures)' })
export class WebhookType {
  @Field(() => ID) id!: string;
  @Field(() => ID) flowId!: string;
  @Field(() => String, { nullable: true }) description?: string | null;
  @Field() enabled!: boolean;
  @Field() createdAt!: Date;
  @Field() createdBy!: string;
  @Field() updatedAt!: Date;
}

@ObjectType('WebhookWithSecret')
export class WebhookWithSecret {
  @Field(() => WebhookType) webhook!: WebhookType;
  @Field({ description: 'whsec_… signing secret; shown only now' }) secret!: string;
}

@ObjectType() export class FlowEdge { @Field() cursor!: string; @Field(() => FlowType) node!: FlowType; }
@ObjectType() export class FlowConnection { @Field(() => [FlowEdge]) edges!: FlowEdge[]; @Field(() => PageInfo) pageInfo!: PageInfo; }
@ObjectType() export class RunEdge { @Field() cursor!: string; @Field(() => RunType) node!: RunType; }
@ObjectType() export class RunConnection { @Field(() => [RunEdge]) edges!: RunEdge[]; @Field(() => PageInfo) pageInfo!: PageInfo; }

@InputType()
export class RegisterFlowInput {
  @Field() name!: string;
  @Field(() => String, { nullable: true }) description?: string | null;
  @Field(() => String, { nullable: true, description: 'the first version\'s name; default "1"' }) version?: string | null;
  @Field(() => GraphQLJSON) definition!: unknown;
}

@InputType()
export class PublishFlowVersionInput {
  @Field(() => ID) flowId!: string;
  @Field(() => String, { nullable: true, description: 'default: the number of versions + 1' }) version?: string | null;
  @Field(() => GraphQLJSON) definition!: unknown;
}

@InputType()
export class FlowFilter {
  @Field(() => String, { nullable: true, description: 'substring of name or description' }) search?: string | null;
  @Field(() => Boolean, { nullable: true, defaultValue: false }) includeDeprecated?: boolean | null;
}

@InputType()
export class CreateRunInput {
  @Field(() => ID) flowId!: string;
  @Field(() => String, { nullable: true, description: 'default: the latest version that is not deprecated' }) flowVersion?: string | null;
  @Field(() => GraphQLJSON, { nullable: true, description: 'runs this definition instead of the registry\'s, after validation and policies' }) flowDefinition?: unknown;
  @Field(() => GraphQLJSON, { nullable: true }) input?: unknown;
  @Field(() => String, { nullable: true, description: 'idempotency key: the same requestId of one tenant always returns the same run' }) requestId?: string | null;
}

@InputType()
export class RunFilterInput {
  @Field(() => [RunStatusEnum], { nullable: true }) status?: RunStatusEnum[] | null;
  @Field(() => ID, { nullable: true }) flowId?: string | null;
  @Field(() => String, { nullable: true }) createdBy?: string | null;
  @Field(() => Date, { nullable: true }) from?: Date | null;
  @Field(() => Date, { nullable: true }) to?: Date | null;
}

@InputType()
export class RunStatusReportInput {
  @Field(() => ID) runId!: string;
  @Field({ description: 'unique per run; a repeated report changes nothing' }) reportId!: string;
  @Field(() => RunStatusEnum) status!: RunStatusEnum;
  @Field(() => GraphQLJSON, { nullable: true }) output?: unknown;
  @Field(() => GraphQLJSON, { nullable: true }) error?: unknown;
  @Field(() => String, { nullable: true, description: 'a task result, checked by post-task policies' }) taskId?: string | null;
  @Field(() => GraphQLJSON, { nullable: true }) taskOutput?: unknown;
}

@InputType()
export class CreateWebhookInput {
  @Field(() => ID) flowId!: string;
  @Field(() => String, { nullable: true }) description?: string | null;
  @Field(() => Boolean, { nullable: true, defaultValue: true }) enabled?: boolean | null;
}

@InputType()
export class UpdateWebhookInput {
  @Field(() => ID, { nullable: true }) flowId?: string | null;
  @Field(() => String, { nullable: true }) description?: string | null;
  @Field(() => Boolean, { nullable: true }) enabled?: boolean | null;
}

@InputType()
export class WebhookDeliveryInput {
  @Field(() => ID) webhookId!: string;
  @Field(() => String, { nullable: true }) messageId?: string | null;
  @Field(() => String, { nullable: true }) timestamp?: string | null;
  @Field(() => String, { nullable: true }) signature?: string | null;
  @Field() bodyBase64!: string;
}

@ObjectType('RunStatusEvent', { description: 'A committed status change of a run (creation included: previousStatus null → PENDING)' })
export class RunStatusEventType {
  @Field(() => ID, { description: 'the history entry\'s id, increasing in commit order per tenant: pass it as `since` to resume after it' }) eventId!: string;
  @Field(() => ID) runId!: string;
  @Field(() => RunStatusEnum, { nullable: true, description: 'null when the run was created' }) previousStatus?: string | null;
  @Field(() => RunStatusEnum) status!: string;
  @Field() at!: Date;
}

@ArgsType()
export class RunStatusChangedArgs {
  @Field(() => ID, { nullable: true }) runId?: string | null;
  @Field(() => ID, { nullable: true }) flowId?: string | null;
  @Field(() => [RunStatusEnum], { nullable: true, description: 'only changes to one of these statuses' }) statuses?: RunStatusEnum[] | null;
  @Field(() => String, { nullable: true, description: 'the eventId of the last event seen: every later one is replayed first' }) since?: string | null;
}
