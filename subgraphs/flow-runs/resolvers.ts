import { Arg, Args, Ctx, FieldResolver, ID, Int, Mutation, Query, Resolver, Root, Subscription, type SubscribeResolverData } from 'type-graphql';
import { GraphQLJSON } from 'graphql-scalars';
import type { SubgraphContext } from '../../platform/subgraph-server';
import { page } from '../../platform/pagination';
import type { FlowRunsDeps } from './deps';
import { deprecateFlow, getFlow, getVersion, listFlows, listVersions, publishFlowVersion, registerFlow } from './registry';
import { applyStatusReport, cancelRun, createRun, retryRun } from './runs';
import { getRun, getRunDefinition, listRuns, runHistory, type RunView } from './run-store';
import { subscribeRunStatus, type RunStatusEvent } from './run-events';
import { createWebhook, deleteWebhook, deliverWebhook, getWebhook, listWebhooks, rotateWebhookSecret, updateWebhook } from './webhooks';
import {
  CreateRunInput, CreateRunResult, CreateWebhookInput, FlowConnection, FlowFilter, FlowType, FlowVersionType, PublishFlowVersionInput,
  RegisterFlowInput, RunConnection, RunFilterInput, RunOrderEnum, RunStatusChangedArgs, RunStatusEventType, RunStatusReportInput, RunTransitionType, RunType, UpdateWebhookInput,
  WebhookDeliveryInput, WebhookType, WebhookWithSecret,
} from './types';

export interface FlowRunsContext extends SubgraphContext {
  deps: FlowRunsDeps;
}

const asRun = (run: RunView) => run as unknown as RunType;
const runResult = ({ run, created }: { run: RunView; created: boolean }): CreateRunResult => ({ run: asRun(run), correlationId: run.correlationId, created });

@Resolver(() => FlowType)
export class FlowResolver {
  @Query(() => FlowType, { nullable: true })
  async flow(@Arg('id', () => ID) id: string, @Ctx() ctx: FlowRunsContext): Promise<FlowType | null> {
    return getFlow(ctx.deps.db.em(), ctx.identity, id);
  }

  @Query(() => FlowConnection)
  async flows(
    @Arg('filter', () => FlowFilter, { nullable: true }) filter: FlowFilter | null,
    @Arg('first', () => Int, { defaultValue: 50 }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Ctx() ctx: FlowRunsContext,
  ): Promise<FlowConnection> {
    return page(await listFlows(ctx.deps.db.em(), ctx.identity, filter ?? {}, first, after), first, 'f');
  }

  @FieldResolver(() => Boolean)
  deprecated(@Root() flow: FlowType): boolean {
    return !!flow.deprecatedAt;
  }

  @FieldResolver(() => FlowVersionType, { nullable: true, description: 'the newest version that is not deprecated' })
  async latestVersion(@Root() flow: FlowType, @Ctx() ctx: FlowRunsContext): Promise<FlowVersionType | null> {
    return getVersion(ctx.deps.db.em(), flow.id);
  }

  @FieldResolver(() => FlowVersionType, { nullable: true })
  async version(@Root() flow: FlowType, @Arg('version') version: string, @Ctx() ctx: FlowRunsContext): Promise<FlowVersionType | null> {
    return getVersion(ctx.deps.db.em(), flow.id, version);
  }

  @FieldResolver(() => [FlowVersionType])
  async versions(@Root() flow: FlowType, @Ctx() ctx: FlowRunsContext): Promise<FlowVersionType[]> {
    return listVersions(ctx.deps.db.em(), flow.id);
  }

  @Mutation(() => FlowType, { description: 'Registers a flow with its first version; the definition is validated and policy-checked' })
  async registerFlow(@Arg('input', () => RegisterFlowInput) input: RegisterFlowInput, @Ctx() ctx: FlowRunsContext): Promise<FlowType> {
    return registerFlow(ctx.deps, ctx.identity, input);
  }

  @Mutation(() => FlowVersionType, { description: 'Publishes a new immutable version of a flow' })
  async publishFlowVersion(@Arg('input', () => PublishFlowVersionInput) input: PublishFlowVersionInput, @Ctx() ctx: FlowRunsContext): Promise<FlowVersionType> {
    return publishFlowVersion(ctx.deps, ctx.identity, input);
  }

  @Mutation(() => FlowType, { description: 'Deprecates one version, or the whole flow when no version is given; new runs refuse it' })
  async deprecateFlow(@Arg('flowId', () => ID) flowId: string, @Arg('version', () => String, { nullable: true }) version: string | null, @Ctx() ctx: FlowRunsContext): Promise<FlowType> {
    return deprecateFlow(ctx.deps, ctx.identity, flowId, version);
  }
}

@Resolver(() => FlowVersionType)
export class FlowVersionResolver {
  @FieldResolver(() => Boolean)
  deprecated(@Root() v: FlowVersionType): boolean {
    return !!v.deprecatedAt;
  }
}

@Resolver(() => RunType)
export class RunResolver {
  @Query(() => RunType, { nullable: true, description: 'A run of the caller\'s tenant (status reads go through the status cache)' })
  async run(@Arg('id', () => ID) id: string, @Ctx() ctx: FlowRunsContext): Promise<RunType | null> {
    const run = await getRun(ctx.deps, ctx.identity, id);
    return run ? asRun(run) : null;
  }

  @Query(() => RunConnection)
  async runs(
    @Arg('filter', () => RunFilterInput, { nullable: true }) filter: RunFilterInput | null,
    @Arg('first', () => Int, { defaultValue: 50 }) first: number,
    @Arg('after', () => String, { nullable: true }) after: string | null,
    @Arg('orderBy', () => RunOrderEnum, { defaultValue: RunOrderEnum.CREATED_AT_DESC }) orderBy: RunOrderEnum,
    @Ctx() ctx: FlowRunsContext,
  ): Promise<RunConnection> {
    const rows = await listRuns(ctx.deps.db.em(), ctx.identity, filter ?? {}, first, after, orderBy);
    return page(rows as unknown as (RunType & { seq: string })[], first, 'run');
  }

  @FieldResolver(() => FlowType, { nullable: true })
  async flow(@Root() run: RunType, @Ctx() ctx: FlowRunsContext): Promise<FlowType | null> {
    return getFlow(ctx.deps.db.em(), ctx.identity, run.flowId);
  }

  @FieldResolver(() => GraphQLJSON, { description: 'the definition this run executes' })
  async definition(@Root() run: RunType, @Ctx() ctx: FlowRunsContext): Promise<unknown> {
    return getRunDefinition(ctx.deps.db.em(), ctx.identity, run.id);
  }

  @FieldResolver(() => [RunTransitionType], { description: 'every status change, oldest first' })
  async history(@Root() run: RunType, @Ctx() ctx: FlowRunsContext): Promise<RunTransitionType[]> {
    const rows = await runHistory(ctx.deps.db.em(), run.id);
    return rows.map((t) => ({ from: t.fromStatus ?? null, to: t.toStatus, at: t.at, actor: t.actor, reason: t.reason ?? null, reportId: t.reportId ?? null }));
  }

  @Mutation(() => CreateRunResult, { description: 'Starts a run; idempotent per requestId' })
  async createRun(@Arg('input', () => CreateRunInput) input: CreateRunInput, @Ctx() ctx: FlowRunsContext): Promise<CreateRunResult> {
    return runResult(await createRun(ctx.deps, ctx.identity, input));
  }

  @Mutation(() => RunType, { description: 'Asks the orchestrator to stop a PENDING, QUEUED or RUNNING run (→ CANCELLING)' })
  async cancelRun(@Arg('id', () => ID) id: string, @Arg('reason', () => String, { nullable: true }) reason: string | null, @Ctx() ctx: FlowRunsContext): Promise<RunType> {
    return asRun(await cancelRun(ctx.deps, ctx.identity, id, reason));
  }

  @Mutation(() => RunType, { description: 'Runs a FAILED or TIMED_OUT run again (→ PENDING, attempts + 1)' })
  async retryRun(@Arg('id', () => ID) id: string, @Ctx() ctx: FlowRunsContext): Promise<RunType> {
    return asRun(await retryRun(ctx.deps, ctx.identity, id));
  }

  @Mutation(() => RunType, { description: 'For orchestrators (scope "orchestrator"): a run\'s new status; idempotent per reportId' })
  async reportRunStatus(@Arg('input', () => RunStatusReportInput) input: RunStatusReportInput, @Ctx() ctx: FlowRunsContext): Promise<RunType> {
    return asRun(await applyStatusReport(ctx.deps, ctx.identity, { ...input, taskId: input.taskId ?? undefined }));
  }
}

@Resolver(() => WebhookType)
export class WebhookResolver {
  @Query(() => WebhookType, { nullable: true })
  async webhook(@Arg('id', () => ID) id: string, @Ctx() ctx: FlowRunsContext): Promise<WebhookType | null> {
    return getWebhook(ctx.deps.db.em(), ctx.identity, id);
  }

  @Query(() => [WebhookType])
  async webhooks(@Arg('flowId', () => ID, { nullable: true }) flowId: string | null, @Ctx() ctx: FlowRunsContext): Promise<WebhookType[]> {
    return listWebhooks(ctx.deps.db.em(), ctx.identity, flowId);
  }

  @FieldResolver(() => FlowType, { nullable: true })
  async flow(@Root() hook: WebhookType, @Ctx() ctx: FlowRunsContext): Promise<FlowType | null> {
    return getFlow(ctx.deps.db.em(), ctx.identity, hook.flowId);
  }

  @Mutation(() => WebhookWithSecret, { description: 'The secret is returned only here' })
  async createWebhook(@Arg('input', () => CreateWebhookInput) input: CreateWebhookInput, @Ctx() ctx: FlowRunsContext): Promise<WebhookWithSecret> {
    return createWebhook(ctx.deps, ctx.identity, input);
  }

  @Mutation(() => WebhookType)
  async updateWebhook(@Arg('id', () => ID) id: string, @Arg('input', () => UpdateWebhookInput) input: UpdateWebhookInput, @Ctx() ctx: FlowRunsContext): Promise<WebhookType> {
    return updateWebhook(ctx.deps, ctx.identity, id, input);
  }

  @Mutation(() => WebhookWithSecret, { description: 'A new signing secret, returned only here; the old one stops working' })
  async rotateWebhookSecret(@Arg('id', () => ID) id: string, @Ctx() ctx: FlowRunsContext): Promise<WebhookWithSecret> {
    return rotateWebhookSecret(ctx.deps, ctx.identity, id);
  }

  @Mutation(() => Boolean)
  async deleteWebhook(@Arg('id', () => ID) id: string, @Ctx() ctx: FlowRunsContext): Promise<boolean> {
    return deleteWebhook(ctx.deps, ctx.identity, id);
  }

  @Mutation(() => CreateRunResult, { description: 'Internal: the gateway hands POST /v1/webhooks/{id} deliveries here; callers get FORBIDDEN' })
  async deliverWebhook(@Arg('input', () => WebhookDeliveryInput) input: WebhookDeliveryInput, @Ctx() ctx: FlowRunsContext): Promise<CreateRunResult> {
    return runResult(await deliverWebhook(ctx.deps, ctx.identity, input));
  }
}

@Resolver(() => RunStatusEventType)
export class RunStatusEventResolver {
  @Subscription(() => RunStatusEventType, {
    description: 'Status changes of the caller\'s runs, creation included',
    subscribe: ({ args, context }: SubscribeResolverData<unknown, RunStatusChangedArgs, FlowRunsContext>) => subscribeRunStatus(context.deps, context.identity, args),
  })
  runStatusChanged(
    @Root() event: RunStatusEvent,
    @Args(() => RunStatusChangedArgs) _args: RunStatusChangedArgs, // read by `subscribe` above
  ): RunStatusEventType {
    return event as unknown as RunStatusEventType;
  }

  @FieldResolver(() => RunType, { nullable: true, description: 'the run as it is now' })
  async run(@Root() event: RunStatusEventType, @Ctx() ctx: FlowRunsContext): Promise<RunType | null> {
    const run = await getRun(ctx.deps, ctx.identity, event.runId);
    return run ? asRun(run) : null;
  }
}
