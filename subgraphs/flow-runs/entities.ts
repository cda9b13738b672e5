import { Entity, PrimaryKey, PrimaryKeyProp, Property } from '@mikro-orm/core';

@Entity({ schema: 'flow_runs', tableName: 'flow' })
export class FlowRow {
  @PrimaryKey({ type: 'uuid' }) id!: string;
  @Property({ type: 'bigint', autoincrement: true }) seq!: string;
  @Property({ type: 'text' }) tenantId!: string;
  @Property({ type: 'text' }) name!: string;
  @Property({ type: 'text', nullable: true }) description?: string | null;
  @Property({ type: 'Date' }) createdAt!: Date;
  @Property({ type: 'text' }) createdBy!: string;
  @Property({ type: 'Date', nullable: true }) deprecatedAt?: Date | null;
}

@Entity({ schema: 'flow_runs', tableName: 'flow_version' })
export class FlowVersionRow {
  [PrimaryKeyProp]?: ['flowId', 'version'];
  @PrimaryKey({ type: 'uuid' }) flowId!: string;
  @PrimaryKey({ type: 'text' }) version!: string;
  @Property({ type: 'bigint', autoincrement: true }) seq!: string;
  @Property({ type: 'json' }) definition!: unknown;
  @Property({ type: 'Date' }) createdAt!: Date;
  @Property({ type: 'text' }) createdBy!: string;
  @Property({ type: 'Date', nullable: true }) deprecatedAt?: Date | null;
}

@Entity({ schema: 'flow_runs', tableName: 'run' })
export class RunRow {
  @PrimaryKey({ type: 'uuid' }) id!: string;
  @Property({ type: 'bigint', autoincrement: true }) seq!: string;
  @Property({ type: 'text' }) tenantId!: string;
  @Property({ type: 'uuid' }) flowId!: string;
  @Property({ type: 'text' }) flowVersion!: string;
  @Property({ type: 'json', lazy: true }) definition!: unknown;
  @Property({ type: 'boolean' }) definitionOverridden!: boolean;
  @Property({ type: 'text' }) createdBy!: string;
  @Property({ type: 'text' }) status!: string;
  @Property({ type: 'integer' }) statusVersion!: number;
  @Property({ type: 'json', nullable: true }) input?: unknown;
  @Property({ type: 'json', nullable: true }) output?: unknown;
  @Property({ type: 'json', nullable: true }) error?: unknown;
  @Property({ type: 'text' }) correlationId!: string;
  @Property({ type: 'text', nullable: true }) requestId?: string | null;
  @Property({ type: 'integer' }) attempts!: number;
  @Property({ type: 'Date' }) createdAt!: Date;
  @Property({ type: 'Date' }) updatedAt!: Date;
  @Property({ type: 'Date', nullable: true }) startedAt?: Date | null;
  @Property({ type: 'Date', nullable: true }) finishedAt?: Date | null;
}

@Entity({ schema: 'flow_runs', tableName: 'run_transition' })
export class RunTransitionRow {
  @PrimaryKey({ type: 'bigint', autoincrement: true }) id!: string;
  @Property({ type: 'uuid' }) runId!: string;
  @Property({ type: 'text', nullable: true }) fromStatus?: string | null;
  @Property({ type: 'text' }) toStatus!: string;
  @Property({ type: 'Date' }) at!: Date;
  @Property({ type: 'text' }) actor!: string;
  @Property({ type: 'text', nullable: true }) reason?: string | null;
  @Property({ type: 'text', nullable: true }) reportId?: string | null;
}

@Entity({ schema: 'flow_runs', tableName: 'webhook' })
export class WebhookRow {
  @PrimaryKey({ type: 'uuid' }) id!: string;
  @Property({ type: 'bigint', autoincrement: true }) seq!: string;
  @Property({ type: 'text' }) tenantId!: string;
  @Property({ type: 'uuid' }) flowId!: string;
  @Property({ type: 'text', nullable: true }) description?: string | null;
  @Property({ type: 'boolean' }) enabled!: boolean;
  @Property({ type: 'text', lazy: true }) secretSealed!: string;
  @Property({ type: 'Date' }) createdAt!: Date;
  @Property({ type: 'text' }) createdBy!: string;
  @Property({ type: 'Date' }) updatedAt!: Date;
}

export const ENTITIES = [FlowRow, FlowVersionRow, RunRow, RunTransitionRow, WebhookRow];
