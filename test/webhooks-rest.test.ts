import { createHmac, randomUUID } from 'node:crypto';
import { CREATE_RUN, REAL_DB, bearer, bootPlatform, gql, newTenant, registerFlow, sql, tokenFor } from './harness';
import type { Platform } from '../scripts/platform';
import type { PlatformConfig } from '../platform/config';

let platform: Platform;
let config: PlatformConfig;
let url: string;

beforeAll(async () => { ({ platform, config, url } = await bootPlatform()); }, 120000);
afterAll(async () => { await platform?.stop(); });

const CREATE_WEBHOOK = `mutation($i: CreateWebhookInput!) { createWebhook(input: $i) { secret webhook { id flowId enabled } } }`;

/** Standard Webhooks, computed here from the spec rather than with the code under test. */
function sign(secret: string, id: string, ts: number, body: string): string {
  const key = Buffer.from(secret.replace(/^whsec_/, ''), 'base64');
  return `v1,${createHmac('sha256', key).update(`${id}.${ts}.${body}`).digest('base64')}`;
}

async function deliver(webhookId: string, body: string, headers: Record<string, string>) {
  const res = await fetch(`${url}/v1/webhooks/${webhookId}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  return { status: res.status, body: await res.json() };
}

describe('webhooks', () => {
  test('a signed delivery starts a run with the body as input; replays, bad and stale signatures, unknown and disabled hooks', async () => {
    const tenant = newTenant();
    const token = await tokenFor(config, tenant);
    const flowId = await registerFlow(url, token);
    const created = await gql(url, bearer(token), CREATE_WEBHOOK, { i: { flowId, description: 'crm' } });
    const { secret, webhook } = created.body.data.createWebhook;
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/=]{40,}$/);
    const listed = await gql(url, bearer(token), `{ webhooks { id enabled flow { id } } }`);
    expect(listed.body.data.webhooks).toEqual([{ id: webhook.id, enabled: true, flow: { id: flowId } }]);
    expect(JSON.stringify(listed.body)).not.toContain(secret.slice(6));

    const body = '{"event":"deal.won", "amount": 1200}'; // spacing kept: the signature covers the raw bytes
    const now = Math.floor(Date.now() / 1000);
    const msgId = `msg_${randomUUID()}`;
    const headers = { 'webhook-id': msgId, 'webhook-timestamp': String(now), 'webhook-signature': `v1,AAAA ${sign(secret, msgId, now, body)}` };
    const first = await deliver(webhook.id, body, headers);
    expect(first.status).toBe(202);
    expect(first.body).toMatchObject({ run_id: expect.any(String), correlation_id: expect.any(String), replayed: false });
    const run = await gql(url, bearer(token), `query($id: ID!) { run(id: $id) { status input createdBy flowId } }`, { id: first.body.run_id });
    expect(run.body.data.run).toEqual({ status: 'PENDING', input: { event: 'deal.won', amount: 1200 }, createdBy: `webhook:${webhook.id}`, flowId });
    const replay = await deliver(webhook.id, body, headers);
    expect(replay).toMatchObject({ status: 202, body: { run_id: first.body.run_id, replayed: true } });

    const tampered = await deliver(webhook.id, body.replace('1200', '9999'), headers);
    expect(tampered).toMatchObject({ status: 401, body: { error: 'WEBHOOK_SIGNATURE_INVALID' } });
    const old = now - 301;
    const stale = await deliver(webhook.id, body, { 'webhook-id': 'm2', 'webhook-timestamp': String(old), 'webhook-signature': sign(secret, 'm2', old, body) });
    expect(stale.status).toBe(401);
    expect(stale.body.detail).toMatch(/timestamp/i);
    const unsigned = await deliver(webhook.id, body, {});
    expect(unsigned.status).toBe(401);
    const notJson = await deliver(webhook.id, 'hello', { 'webhook-id': 'm3', 'webhook-timestamp': String(now), 'webhook-signature': sign(secret, 'm3', now, 'hello') });
    expect(notJson).toMatchObject({ status: 400, body: { error: 'BAD_USER_INPUT' } });
    expect((await deliver(randomUUID(), body, headers)).status).toBe(404);

    await gql(url, bearer(token), `mutation($id: ID!) { updateWebhook(id: $id, input: { enabled: false }) { enabled } }`, { id: webhook.id });
    const m4 = { 'webhook-id': 'm4', 'webhook-timestamp': String(now), 'webhook-signature': sign(secret, 'm4', now, body) };
    expect(await deliver(webhook.id, body, m4)).toMatchObject({ status: 404, body: { error: 'WEBHOOK_NOT_FOUND' } });
    await gql(url, bearer(token), `mutation($id: ID!) { updateWebhook(id: $id, input: { enabled: true }) { enabled } }`, { id: webhook.id });
    expect((await deliver(webhook.id, body, m4)).status).toBe(202);

    // Rotation: the old secret stops working, the new one (shown once) works.
    const rotated = (await gql(url, bearer(token), `mutation($id: ID!) { rotateWebhookSecret(id: $id) { secret } }`, { id: webhook.id })).body.data.rotateWebhookSecret.secret;
    expect((await deliver(webhook.id, body, { 'webhook-id': 'm5', 'webhook-timestamp': String(now), 'webhook-signature': sign(secret, 'm5', now, body) })).status).toBe(401);
    expect((await deliver(webhook.id, body, { 'webhook-id': 'm5', 'webhook-timestamp': String(now), 'webhook-signature': sign(rotated, 'm5', now, body) })).status).toBe(202);
    if (REAL_DB) {
      const [row] = await sql(`select secret_sealed from flow_runs.webhook where id = $1`, [webhook.id]);
      expect(row.secret_sealed).not.toContain(rotated.slice(6)); // sealed at rest
    }

    expect((await gql(url, bearer(token), `mutation($id: ID!) { deleteWebhook(id: $id) }`, { id: webhook.id })).body.data.deleteWebhook).toBe(true);
    expect((await deliver(webhook.id, body, m4)).status).toBe(404);
  });

  test('tenants cannot see or change each other\'s webhooks, and nobody can call deliverWebhook directly', async () => {
    const a = await tokenFor(config, newTenant());
    const b = await tokenFor(config, newTenant());
    const flowId = await registerFlow(url, a);
    const { webhook } = (await gql(url, bearer(a), CREATE_WEBHOOK, { i: { flowId } })).body.data.createWebhook;
    expect((await gql(url, bearer(b), `query($id: ID!) { webhook(id: $id) { id } }`, { id: webhook.id })).body.data.webhook).toBeNull();
    expect((await gql(url, bearer(b), `mutation($id: ID!) { updateWebhook(id: $id, input: { enabled: false }) { id } }`, { id: webhook.id })).body.errors[0].extensions.code).toBe('NOT_FOUND');
    expect((await gql(url, bearer(b), `mutation($id: ID!) { deleteWebhook(id: $id) }`, { id: webhook.id })).body.data.deleteWebhook).toBe(false);
    expect((await gql(url, bearer(b), CREATE_WEBHOOK, { i: { flowId } })).body.errors[0].extensions.code).toBe('NOT_FOUND');
    const direct = await gql(url, bearer(a), `mutation($i: WebhookDeliveryInput!) { deliverWebhook(input: $i) { created } }`, { i: { webhookId: webhook.id, bodyBase64: 'e30=' } });
    expect(direct.body.errors[0].extensions.code).toBe('FORBIDDEN');
  });
});

describe('REST compatibility: POST /v1/runs and GET /v1/runs/{id}', () => {
  test('create (202, idempotent by request_id or Idempotency-Key), read in the seed\'s shape, and errors as { error, detail }', async () => {
    const token = await tokenFor(config, newTenant());
    const flowId = await registerFlow(url, token);
    const post = (body: unknown, headers: Record<string, string> = {}) =>
      fetch(`${url}/v1/runs`, { method: 'POST', headers: { 'content-type': 'application/json', ...bearer(token), ...headers }, body: JSON.stringify(body) });
    const r = await post({ flow_id: flowId, input: { q: 1 }, request_id: 'req-1' });
    expect(r.status).toBe(202);
    const created = await r.json();
    expect(created).toEqual({ run_id: expect.any(String), correlation_id: expect.any(String), created: true });
    expect(r.headers.get('x-correlation-id')).toBe(created.correlation_id);
    expect(await (await post({ flow_id: flowId, request_id: 'req-1' })).json()).toMatchObject({ run_id: created.run_id, created: false });
    const keyed = await (await post({ flow_id: flowId }, { 'idempotency-key': 'k-9' })).json();
    expect(await (await post({ flow_id: flowId }, { 'idempotency-key': 'k-9' })).json()).toMatchObject({ run_id: keyed.run_id, created: false });

    const get = await fetch(`${url}/v1/runs/${created.run_id}`, { headers: bearer(token) });
    expect(get.status).toBe(200);
    expect(await get.json()).toMatchObject({
      run_id: created.run_id, flow_id: flowId, flow_version: '1', status: 'PENDING', input: { q: 1 }, output: null, error: null, attempts: 1,
      correlation_id: created.correlation_id, request_id: 'req-1', created_by: 'alice', history: [{ from: null, to: 'PENDING' }],
    });

    const bad = await post({ flow_id: flowId, flow_definition: { type: 'DAG', tasks: [{ id: 'a', type: 'x', dependsOn: ['a'] }] } });
    expect(bad.status).toBe(400);
    expect(await bad.json()).toMatchObject({ error: 'BAD_USER_INPUT', detail: expect.stringMatching(/definition/) });
    const policy = await post({ flow_id: flowId, flow_definition: { type: 'DAG', tasks: [{ id: 'a', type: 'x', retries: 50 }] } });
    expect(policy.status).toBe(403);
    expect((await policy.json()).error).toBe('POLICY_VIOLATION');
    expect((await post({ flow_id: randomUUID() })).status).toBe(404);
    expect((await post({ nope: true })).status).toBe(400);
    const noAuth = await fetch(`${url}/v1/runs`, { method: 'POST', body: JSON.stringify({ flow_id: flowId }) });
    expect(noAuth.status).toBe(401);
    expect(await noAuth.json()).toMatchObject({ error: 'UNAUTHENTICATED' });
    expect((await fetch(`${url}/v1/runs/${created.run_id}`, { method: 'DELETE', headers: bearer(token) })).status).toBe(405);
    expect((await fetch(`${url}/v1/runs/not-a-uuid`, { headers: bearer(token) })).status).toBe(404);
    const viaGraph = await gql(url, bearer(token), CREATE_RUN, { input: { flowId, requestId: 'req-1' } });
    expect(viaGraph.body.data.createRun).toMatchObject({ created: false, run: { id: created.run_id } });
  });
});
