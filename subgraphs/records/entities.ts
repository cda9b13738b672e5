import { Entity, PrimaryKey, Property } from '@mikro-orm/core';

@Entity({ schema: 'records', tableName: 'record' })
export class RecordRow {
  @PrimaryKey({ type: 'uuid' }) id!: string;
  @Property({ type: 'bigint', autoincrement: true }) seq!: string;
  @Property({ type: 'text' }) tenantId!: string;
  @Property({ type: 'text' }) source!: string;
  @Property({ type: 'text' }) recordId!: string;
  @Property({ type: 'text' }) userId!: string;
  @Property({ type: 'text', nullable: true }) batchId?: string;
  @Property({ type: 'text' }) correlationId!: string;
  @Property({ type: 'text', nullable: true }) runId?: string;
  @Property({ type: 'Date', fieldName: 'timestamp' }) timestamp!: Date;
  @Property({ type: 'json' }) payload!: unknown;
  @Property({ type: 'text' }) checksum!: string;
  @Property({ type: 'Date' }) createdAt!: Date;
}
