import type { Migrations } from '../../platform/db';
import { outboxMigration } from '../../platform/outbox';

export const SCHEMA = 'audit';

export const migrations: Migrations = [
  `create table audit.event (
    id uuid primary key,
    seq bigserial not null unique,
    tenant_id text not null,
    source text not null,
    type text not null,
    specversion text not null,
    time timestamptz not null,
    subject text not null,
    actor text not null,
    correlation_id text not null,
    action text not null,
    data jsonb,
    prev_hash text,
    hash text not null,
    received_at timestamptz not null default now()
  );
  create index event_tenant_seq on audit.event (tenant_id, seq);
  create index event_tenant_subject on audit.event (tenant_id, subject, seq);
  create index event_tenant_correlation on audit.event (tenant_id, correlation_id, seq);`,
  // audit.chained: each stored event, for the subscriptions of every audit process
  outboxMigration(SCHEMA),
];
