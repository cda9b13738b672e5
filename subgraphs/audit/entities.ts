import { Entity, PrimaryKey, Property } from '@mikro-orm/core';

@Entity({ schema: 'audit', tableName: 'event' })
export class AuditEventRow {
  @PrimaryKey({ type: 'uuid' }) id!: string;
  @Property({ type: 'bigint', autoincrement: true }) seq!: string;
  @Property({ type: 'text' }) tenantId!: string;
  @Property({ type: 'text' }) source!: string;
  @Property({ type: 'text' }) type!: string;
  @Property({ type: 'text' }) specversion!: string;
  @Property({ type: 'Date' }) time!: Date;
  @Property({ type: 'text' }) subject!: string;
  @Property({ type: 'text' }) actor!: string;
  @Property({ type: 'text' }) correlationId!: string;
  @Property({ type: 'text' }) action!: string;
  @Property({ type: 'json', nullable: true }) data?: unknown;
  @Property({ type: 'text', nullable: true }) prevHash?: string | null;
  @Property({ type: 'text' }) hash!: string;
}
