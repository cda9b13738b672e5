import { randomUUID } from 'node:crypto';
import type { EntityManager } from '@mikro-orm/postgresql';
import { WEBHOOK_DELIVERY_SCOPE, type Identity } from '../../platform/identity';
import { codedError } from '../../platform/errors';
import { WebhookRow } from './entities';
import { assertUser, audit, isUuid, notFound, sql, type FlowRunsDeps } from './deps';
import { getFlow } from './registry';
import { createRun } from './runs';
import type { RunView } from './run-store';
import { generateWebhookSecret, verifyWebhook } from './webhook-signature';
import { openSecret, sealSecret } from './secret-box';


export async function getWebhook(em: EntityManager, identity: Identity, id: string): Promise<WebhookRow | null> {
  if (!isUuid(id)) return null;
  return em.findOne(WebhookRow, { id, tenantId: identity.tenantId });
}

export async function listWebhooks(em: EntityManager, identity: Identity, flowId?: string | null): Promise<WebhookRow[]> {
  const where: Record<string, unknown> = { tenantId: identity.tenantId };
  if (flowId) where.flowId = flowId;
  return em.find(WebhookRow, where, { orderBy: { seq: 'asc' }, limit: 1000 });
}

async function requireFlow(deps: FlowRunsDeps, identity: Identity, flowId: string) {
  const flow = await getFlow(deps.db.em(), identity, flowId);
  if (!flow) throw notFound('flow', flowId);
  return flow;
}

/** Creates a webhook for a flow; the returned secret is shown this once (it is stored sealed). */
export async function createWebhook(deps: FlowRunsDeps, identity: Identity, input: { flowId: string; description?: string | null; enabled?: boolean | null }): Promise<{ webhook: WebhookRow; secret: string }> {
  assertUser(identity);
  await requireFlow(deps, identity, input.flowId);
  const id = randomUUID();
  const secret = generateWebhookSecret();
  await deps.db.em().transactional(async (tx) => {
    const q = sql(tx);
    await q.table('webhook').insert({ id, tenant_id: identity.tenantId, flow_id: input.flowId, description: input.description ?? null,
      enabled: input.enabled ?? true, secret_sealed: sealSecret(secret, deps.secretKey), created_by: identity.subject });
    await q.enqueue([audit(identity, 'WEBHOOK_CREATED', id, { webhookId: id, flowId: input.flowId, enabled: input.enabled ?? true })]);
  });
  return { webhook: (await getWebhook(deps.db.em(), identity, id))!, secret };
}

export async function updateWebhook(deps: FlowRunsDeps, identity: Identity, id: string, patch: { flowId?: string | null; description?: string | null; enabled?: boolean | null }): Promise<WebhookRow> {
  assertUser(identity);
  if (!(await getWebhook(deps.db.em(), identity, id))) throw notFound('webhook', id);
  if (patch.flowId) await requireFlow(deps, identity, patch.flowId);
  const changes: Record<string, unknown> = {};
  if (patch.flowId) changes.flow_id = patch.flowId;
  if (patch.description !== undefined) changes.description = patch.description;
  if (patch.enabled != null) changes.enabled = patch.enabled;
  await deps.db.em().transactional(async (tx) => {
    const q = sql(tx);
    await q.table('webhook').update({ ...changes, updated_at: new Date() }).where({ id, tenant_id: identity.tenantId });
    await q.enqueue([audit(identity, 'WEBHOOK_UPDATED', id, { webhookId: id, ...patch })]);
  });
  return (await getWebhook(deps.db.em(), identity, id))!;
}

export async function rotateWebhookSecret(deps: FlowRunsDeps, identity: Identity, id: string): Promise<{ webhook: WebhookRow; secret: string }> {
  assertUser(identity);
  if (!(await getWebhook(deps.db.em(), identity, id))) throw notFound('webhook', id);
  const secret = generateWebhookSecret();
  await deps.db.em().transactional(async (tx) => {
    const q = sql(tx);
    await q.table('webhook').update({ secret_sealed: sealSecret(secret, deps.secretKey), updated_at: new Date() }).where({ id, tenant_id: identity.tenantId });
    await q.enqueue([audit(identity, 'WEBHOOK_SECRET_ROTATED', id, { webhookId: id })]);
  });
  return { webhook: (await getWebhook(deps.db.em(), identity, id))!, secret };
}

export async function deleteWebhook(deps: FlowRunsDeps, identity: Identity, id: string): Promise<boolean> {
  assertUser(identity);
  if (!isUuid(id)) return false;
  return deps.db.em().transactional(async (tx) => {
    const q = sql(tx);
    const deleted = await q.raw(`delete from flow_runs.webhook where id = ? and tenant_id = ? returning id`, [id, identity.tenantId]);
    if (deleted.length > 0) await q.enqueue([audit(identity, 'WEBHOOK_DELETED', id, { webhookId: id })]);
    return deleted.length > 0;
  });
}

export interface WebhookDelivery {
  webhookId: string;
  messageId?: string | null;
  timestamp?: string | null;
  signature?: string | null;
  /** The request body exactly as received, base64 (the signature covers the raw bytes). */
  bodyBase64: string;
}

/**
 * A delivery to `POST /v1/webhooks/{id}`: Standard Webhooks signature over the raw body, then a run of the
 * webhook's flow with the JSON body as input. The webhook-id is the run's requestId, so a replay gets the same run.
 */
export async function deliverWebhook(deps: FlowRunsDeps, identity: Identity, d: WebhookDelivery): Promise<{ run: RunView; created: boolean }> {
  if (identity.kind !== 'system' || !identity.scopes.includes(WEBHOOK_DELIVERY_SCOPE)) throw codedError('FORBIDDEN', 'webhook deliveries arrive through POST /v1/webhooks/{id}');
  const unknown = codedError('WEBHOOK_NOT_FOUND', `webhook ${d.webhookId} does not exist or is disabled`);
  if (!isUuid(d.webhookId)) throw unknown;
  const hook = await deps.db.em().findOne(WebhookRow, { id: d.webhookId }, { populate: ['secretSealed'] });
  if (!hook || !hook.enabled) throw unknown;
  const body = Buffer.from(d.bodyBase64, 'base64');
  const verdict = verifyWebhook([openSecret(hook.secretSealed, deps.secretKey)], { id: d.messageId ?? undefined, timestamp: d.timestamp ?? undefined, signature: d.signature ?? undefined }, body);
  if (!verdict.ok) throw codedError('WEBHOOK_SIGNATURE_INVALID', verdict.message, { failure: verdict.reason });
  let input: unknown;
  try {
    input = JSON.parse(body.toString('utf8'));
  } catch {
    throw codedError('BAD_USER_INPUT', 'the webhook body must be JSON');
  }
  const actor: Identity = { tenantId: hook.tenantId, subject: `webhook:${hook.id}`, kind: 'system', scopes: [], correlationId: identity.correlationId };
  return createRun(deps, actor, { flowId: hook.flowId, input, requestId: `webhook:${hook.id}:${d.messageId}` });
}
