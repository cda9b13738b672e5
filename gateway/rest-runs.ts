import type { ServerResponse } from 'node:http';
import { sendJson } from '../platform/http';
import { sendGraphQLErrors, type Execute } from './rest-compat';

/** The flow-runs seed's REST contracts (`/v1/runs`, `/v1/webhooks/{id}`), thin adapters over the graph's mutations. */

const CREATE_RUN = `mutation($input: CreateRunInput!) { createRun(input: $input) { correlationId created run { id } } }`;

/** `POST /v1/runs`: `{ flow_id, flow_version?, flow_definition?, input?, request_id? }` (or an Idempotency-Key header) → 202. */
export async function createRunRest(exec: Execute, body: any, res: ServerResponse, headers: Record<string, string>, idempotencyKey?: string): Promise<void> {
  if (!body || typeof body !== 'object' || typeof body.flow_id !== 'string') {
    return sendJson(res, 400, { error: 'BAD_REQUEST', detail: 'body must be {"flow_id": string, "flow_version"?, "flow_definition"?, "input"?, "request_id"?}' }, headers);
  }
  const input = {
    flowId: body.flow_id, flowVersion: body.flow_version ?? null, flowDefinition: body.flow_definition ?? null,
    input: body.input ?? null, requestId: body.request_id ?? idempotencyKey ?? null,
  };
  const out = await exec(CREATE_RUN, { input });
  if (out.errors?.length) return sendGraphQLErrors(res, out.errors, headers);
  const r = out.data!.createRun;
  sendJson(res, 202, { run_id: r.run.id, correlation_id: r.correlationId, created: r.created }, headers);
}

const GET_RUN = `query($id: ID!) { run(id: $id) { id flowId flowVersion status input output error attempts correlationId requestId createdBy
  createdAt updatedAt startedAt finishedAt history { from to at reason } } }`;

/** `GET /v1/runs/{id}`: the run in the seed's snake_case shape; another tenant's run is 404 like a missing one. */
export async function getRunRest(exec: Execute, id: string, res: ServerResponse, headers: Record<string, string>): Promise<void> {
  const out = await exec(GET_RUN, { id });
  if (out.errors?.length) return sendGraphQLErrors(res, out.errors, headers);
  const r = out.data!.run;
  if (!r) return sendJson(res, 404, { error: 'NOT_FOUND', detail: `run ${id} not found` }, headers);
  sendJson(res, 200, {
    run_id: r.id, flow_id: r.flowId, flow_version: r.flowVersion, status: r.status, input: r.input, output: r.output, error: r.error,
    attempts: r.attempts, correlation_id: r.correlationId, request_id: r.requestId, created_by: r.createdBy,
    created_at: r.createdAt, updated_at: r.updatedAt, started_at: r.startedAt, finished_at: r.finishedAt,
    history: r.history.map((h: any) => ({ from: h.from, to: h.to, at: h.at, reason: h.reason })),
  }, headers);
}

const DELIVER = `mutation($input: WebhookDeliveryInput!) { deliverWebhook(input: $input) { correlationId created run { id } } }`;

/**
 * `POST /v1/webhooks/{id}`: the raw body and the Standard Webhooks headers go to the flow-runs subgraph, which
 * holds the secret and verifies the signature. 202 with the run; a replayed webhook-id answers the same run.
 */
export async function webhookRest(exec: Execute, webhookId: string, rawBody: Buffer, reqHeaders: Record<string, string | string[] | undefined>, res: ServerResponse, headers: Record<string, string>): Promise<void> {
  const header = (name: string) => { const v = reqHeaders[name]; return Array.isArray(v) ? v.join(' ') : v ?? null; };
  const out = await exec(DELIVER, { input: {
    webhookId, messageId: header('webhook-id'), timestamp: header('webhook-timestamp'), signature: header('webhook-signature'), bodyBase64: rawBody.toString('base64'),
  } });
  if (out.errors?.length) return sendGraphQLErrors(res, out.errors, headers);
  const r = out.data!.deliverWebhook;
  sendJson(res, 202, { run_id: r.run.id, correlation_id: r.correlationId, replayed: !r.created }, headers);
}
