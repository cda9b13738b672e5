import { outboxMigration } from '../../platform/outbox';
import type { Migrations } from '../../platform/db';

export const SCHEMA = 'flow_runs';

export const migrations: Migrations = [
  `create table flow_runs.flow (
    id uuid primary key,
    seq bigserial not null unique,
    tenant_id text not null,
    name text not null,
    description text,
    created_at timestamptz not null default now(),
    created_by text not null,
    deprecated_at timestamptz,
    constraint flow_name_per_tenant unique (tenant_id, name)
  );
  create table flow_runs.flow_version (
    flow_id uuid not null references flow_runs.flow (id),
    version text not null,
    seq bigserial not null unique,
    definition jsonb not null,
    created_at timestamptz not null default now(),
    created_by text not null,
    deprecated_at timestamptz,
    primary key (flow_id, version)
  );
  create function flow_runs.flow_version_is_immutable() returns trigger language plpgsql as $$
  begin
    if tg_op = 'DELETE' or new.definition is distinct from old.definition or new.version <> old.version
       or new.flow_id <> old.flow_id or new.created_at <> old.created_at or new.created_by <> old.created_by then
      raise exception 'flow versions are immutable (only deprecated_at may change)';
    end if;
    return new;
  end $$;
  create trigger flow_version_immutable before update or delete on flow_runs.flow_version
    for each row execute function flow_runs.flow_version_is_immutable();`,
  `create table flow_runs.run (
    id uuid primary key,
    seq bigserial not null unique,
    tenant_id text not null,
    flow_id uuid not null references flow_runs.flow (id),
    flow_version text not null,
    definition jsonb not null,
    definition_overridden boolean not null,
    created_by text not null,
    status text not null,
    status_version int not null default 1,
    input jsonb,
    output jsonb,
    error jsonb,
    correlation_id text not null,
    request_id text,
    attempts int not null default 1,
    created_at timestamptz not null default now(),
    updated_at timestamptz not null default now(),
    started_at timestamptz,
    finished_at timestamptz,
    constraint run_request_per_tenant unique (tenant_id, request_id)
  );
  create index run_tenant_seq on flow_runs.run (tenant_id, seq);
  create index run_tenant_flow on flow_runs.run (tenant_id, flow_id, seq);
  create index run_tenant_status on flow_runs.run (tenant_id, status, seq);
  create table flow_runs.run_transition (
    id bigserial primary key,
    run_id uuid not null references flow_runs.run (id),
    tenant_id text not null,
    from_status text,
    to_status text not null,
    at timestamptz not null default now(),
    actor text not null,
    reason text,
    report_id text
  );
  create index run_transition_by_run on flow_runs.run_transition (run_id, id);
  -- Subscriptions read a tenant's transitions in id order (replay after since, and the latest id when subscribing).
  create index run_transition_tenant on flow_runs.run_transition (tenant_id, id);
  create table flow_runs.status_report (
    run_id uuid not null references flow_runs.run (id),
    report_id text not null,
    outcome text not null,
    received_at timestamptz not null default now(),
    primary key (run_id, report_id)
  );`,
  `create table flow_runs.webhook (
    id uuid primary key,
    seq bigserial not null unique,
    tenant_id text not null,
    flow_id uuid not null references flow_runs.flow (id),
    description text,
    enabled boolean not null default true,
    secret_sealed text not null,
    created_at timestamptz not null default now(),
    created_by text not null,
    updated_at timestamptz not null default now()
  );
  create index webhook_tenant on flow_runs.webhook (tenant_id, seq);`,
  outboxMigration(SCHEMA),
];
