import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import type { Identity } from '../../platform/identity';
import { codedError } from '../../platform/errors';
import { checkPageSize, decodeCursor } from '../../platform/pagination';
import { invalidDefinitionError, validateDefinition, type FlowDefinition } from './flow-definition';
import { evaluatePolicies, policyViolationError } from './policies';
import { FlowRow, FlowVersionRow } from './entities';
import { assertUser, audit, auditAlone, isUuid, notFound, sql, type FlowRunsDeps } from './deps';

const NAME = /^[\w .:-]{1,100}$/;
const VERSION = /^[\w.+-]{1,64}$/;

/** Validates a definition and checks every policy for it; throws BAD_USER_INPUT or POLICY_VIOLATION (audited). */
export async function admitDefinition(deps: FlowRunsDeps, identity: Identity, flow: { id: string; tenantId: string; name: string }, raw: unknown): Promise<FlowDefinition> {
  const checked = validateDefinition(raw);
  if (!checked.ok) throw invalidDefinitionError(checked.problems);
  const violations = evaluatePolicies({ identity, flow, definition: checked.definition, limits: deps.policyLimits });
  if (violations.length > 0) {
    await auditAlone(deps, [audit(identity, 'POLICY_DENIED', flow.id, { flowId: flow.id, flowName: flow.name, violations })]);
    throw policyViolationError(violations);
  }
  return checked.definition;
}

export async function registerFlow(deps: FlowRunsDeps, identity: Identity, input: { name: string; description?: string | null; version?: string | null; definition: unknown }): Promise<FlowRow> {
  assertUser(identity);
  if (!NAME.test(input.name)) throw codedError('BAD_USER_INPUT', 'name must be 1-100 letters, digits, spaces or _ . : -');
  const version = input.version ?? '1';
  if (!VERSION.test(version)) throw codedError('BAD_USER_INPUT', 'version must be 1-64 letters, digits or _ . + -');
  const id = randomUUID();
  const definition = await admitDefinition(deps, identity, { id, tenantId: identity.tenantId, name: input.name }, input.definition);
  await deps.db.em().transactional(async (tx) => {
    const q = sql(tx);
    const inserted = await q.raw(`insert into flow_runs.flow (id, tenant_id, name, description, created_by) values (?, ?, ?, ?, ?)
      on conflict (tenant_id, name) do nothing returning id`, [id, identity.tenantId, input.name, input.description ?? null, identity.subject]);
    if (inserted.length === 0) {
      const [existing] = await q.raw(`select id from flow_runs.flow where tenant_id = ? and name = ?`, [identity.tenantId, input.name]);
      throw codedError('CONFLICT', `a flow named "${input.name}" exists already (id ${existing?.id}); publish a new version of it instead`, { flowId: existing?.id });
    }
    await q.table('flow_version').insert({ flow_id: id, version, definition: JSON.stringify(definition), created_by: identity.subject });
    await q.enqueue([audit(identity, 'FLOW_REGISTERED', id, { flowId: id, name: input.name, version })]);
  });
  return (await getFlow(deps.db.em(), identity, id))!;
}

export async function publishFlowVersion(deps: FlowRunsDeps, identity: Identity, input: { flowId: string; version?: string | null; definition: unknown }): Promise<FlowVersionRow> {
  assertUser(identity);
  const flow = await getFlow(deps.db.em(), identity, input.flowId);
  if (!flow) throw notFound('flow', input.flowId);
  if (flow.deprecatedAt) throw codedError('FLOW_DEPRECATED', `flow ${flow.id} is deprecated; register a new flow instead`);
  if (input.version != null && !VERSION.test(input.version)) throw codedError('BAD_USER_INPUT', 'version must be 1-64 letters, digits or _ . + -');
  const definition = await admitDefinition(deps, identity, flow, input.definition);
  let version = input.version ?? '';
  await deps.db.em().transactional(async (tx) => {
    const q = sql(tx);
    // Serializes publishers of one flow, so the default version number is never handed out twice.
    await q.raw(`select id from flow_runs.flow where id = ? for update`, [flow.id]);
    if (!version) {
      const [{ n }] = await q.raw<{ n: number }>(`select count(*)::int as n from flow_runs.flow_version where flow_id = ?`, [flow.id]);
      version = String(n + 1);
    }
    const inserted = await q.raw(`insert into flow_runs.flow_version (flow_id, version, definition, created_by) values (?, ?, ?::jsonb, ?)
      on conflict (flow_id, version) do nothing returning version`, [flow.id, version, JSON.stringify(definition), identity.subject]);
    if (inserted.length === 0) throw codedError('CONFLICT', `flow ${flow.id} already has a version "${version}"; versions are immutable`);
    await q.enqueue([audit(identity, 'FLOW_VERSION_PUBLISHED', flow.id, { flowId: flow.id, version })]);
  });
  return (await getVersion(deps.db.em(), flow.id, version))!;
}

/** Deprecates one version, or the whole flow when no version is given. New runs then refuse it. */
export async function deprecateFlow(deps: FlowRunsDeps, identity: Identity, flowId: string, version?: string | null): Promise<FlowRow> {
  assertUser(identity);
  const flow = await getFlow(deps.db.em(), identity, flowId);
  if (!flow) throw notFound('flow', flowId);
  await deps.db.em().transactional(async (tx) => {
    const q = sql(tx);
    if (version) {
      const updated = await q.raw(`update flow_runs.flow_version set deprecated_at = coalesce(deprecated_at, now()) where flow_id = ? and version = ? returning version`, [flow.id, version]);
      if (updated.length === 0) throw notFound(`version "${version}" of flow`, flow.id);
    } else {
      await q.raw(`update flow_runs.flow set deprecated_at = coalesce(deprecated_at, now()) where id = ?`, [flow.id]);
    }
    await q.enqueue([audit(identity, 'FLOW_DEPRECATED', flow.id, { flowId: flow.id, version: version ?? null })]);
  });
  return (await getFlow(deps.db.em(), identity, flow.id))!;
}

export async function getFlow(em: EntityManager, identity: Identity, id: string): Promise<FlowRow | null> {
  if (!isUuid(id)) return null;
  return em.findOne(FlowRow, { id, tenantId: identity.tenantId });
}

/** A version by name, or the newest one that is not deprecated. Callers check the flow's tenant first. */
export async function getVersion(em: EntityManager, flowId: string, version?: string | null): Promise<FlowVersionRow | null> {
  if (!isUuid(flowId)) return null;
  if (version) return em.findOne(FlowVersionRow, { flowId, version });
  return em.findOne(FlowVersionRow, { flowId, deprecatedAt: null }, { orderBy: { seq: 'desc' } });
}

export async function listVersions(em: EntityManager, flowId: string): Promise<FlowVersionRow[]> {
  return em.find(FlowVersionRow, { flowId }, { orderBy: { seq: 'asc' } });
}

export async function listFlows(em: EntityManager, identity: Identity, filter: { search?: string | null; includeDeprecated?: boolean | null }, first: number, after?: string | null): Promise<FlowRow[]> {
  checkPageSize(first, 200);
  const where: Record<string, unknown> = { tenantId: identity.tenantId };
  if (!filter.includeDeprecated) where.deprecatedAt = null;
  if (filter.search) where.$or = [{ name: { $ilike: `%${escapeLike(filter.search)}%` } }, { description: { $ilike: `%${escapeLike(filter.search)}%` } }];
  if (after) where.seq = { $gt: decodeCursor('f', after) };
  return em.find(FlowRow, where, { orderBy: { seq: 'asc' }, limit: first + 1 });
}

const escapeLike = (s: string) => s.replace(/[\\%_]/g, (c) => `\\${c}`);
