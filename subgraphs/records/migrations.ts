import { outboxMigration } from '../../platform/outbox';
import type { Migrations } from '../../platform/db';

export const SCHEMA = 'records';

export const migrations: Migrations = [
  `create table records.record (
    id uuid primary key,
    seq bigserial not null unique,
    tenant_id text not null,
    source text not null,
    record_id text not null,
    user_id text not null,
    batch_id text,
    correlation_id text not null,
    run_id text,
    "timestamp" timestamptz not null,
    payload jsonb not null,
    checksum text not null,
    created_at timestamptz not null default now(),
    constraint record_idempotency unique (tenant_id, source, record_id)
  );
  create index record_payload_gin on records.record using gin (payload jsonb_path_ops);
  create index record_tenant_user on records.record (tenant_id, user_id, seq);
  create index record_tenant_batch on records.record (tenant_id, batch_id, seq);`,
  outboxMigration(SCHEMA),
];
