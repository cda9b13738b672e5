import type { ServerResponse } from 'node:http';
import type { ApolloServer } from '@apollo/server';
import { sendJson } from '../platform/http';
import type { GatewayContext } from './data-source';

export type Execute = (query: string, variables: Record<string, unknown>) => Promise<{ data?: Record<string, any> | null; errors?: readonly { message: string; extensions?: Record<string, unknown> }[] }>;

export function executor(apollo: ApolloServer<GatewayContext>, context: GatewayContext): Execute {
  return async (query, variables) => {
    const res = await apollo.executeOperation({ query, variables }, { contextValue: context });
    if (res.body.kind !== 'single') throw new Error('unexpected incremental response');
    return res.body.singleResult as Awaited<ReturnType<Execute>>;
  };
}

const STATUS_BY_CODE: Record<string, number> = {
  BAD_USER_INPUT: 400, GRAPHQL_VALIDATION_FAILED: 400, BATCH_TOO_LARGE: 413, PAYLOAD_TOO_LARGE: 413,
  UNAUTHENTICATED: 401, FORBIDDEN: 403, INVALID_TIMESTAMP: 400, NOT_FOUND: 404, POLICY_VIOLATION: 403,
  ILLEGAL_TRANSITION: 409, CONFLICT: 409, FLOW_DEPRECATED: 409, WEBHOOK_NOT_FOUND: 404, WEBHOOK_SIGNATURE_INVALID: 401,
};

/** A GraphQL error as the REST contracts' `{ "error": CODE, "detail": text }` with a fitting HTTP status. */
export function sendGraphQLErrors(res: ServerResponse, errors: readonly { message: string; extensions?: Record<string, unknown> }[], headers: Record<string, string>) {
  const code = String(errors[0].extensions?.reason ?? errors[0].extensions?.code ?? 'INTERNAL_SERVER_ERROR');
  const status = STATUS_BY_CODE[code] ?? STATUS_BY_CODE[String(errors[0].extensions?.code)] ?? 500;
  sendJson(res, status, { error: code, detail: errors.map((e) => e.message).join('; ') }, headers);
}

const INGEST_BATCH = `mutation($batch: BatchInput!) { ingestRecords(batch: $batch) {
  batchId processed duplicates rejected results { recordId status id code message } } }`;

/** `POST /ffi/v1/records`: the FFI seed's batch contract over `ingestRecords`. 422 when a checksum fails. */
export async function ffiRecords(exec: Execute, body: any, res: ServerResponse, headers: Record<string, string>, defaultSource: string): Promise<void> {
  if (!body || typeof body !== 'object' || !Array.isArray(body.records)) {
    return sendJson(res, 400, { error: 'BAD_REQUEST', detail: 'body must be {"batch_id", "correlation_id"?, "records": [...]}' }, headers);
  }
  const batch = {
    batchId: String(body.batch_id ?? ''),
    correlationId: body.correlation_id ?? null,
    source: String(body.source ?? defaultSource),
    atomic: body.atomic === true,
    records: body.records.map((r: any) => ({
      recordId: String(r?.record_id ?? ''), userId: String(r?.user_id ?? ''), timestamp: String(r?.timestamp ?? ''),
      payload: r?.payload ?? null, checksum: String(r?.checksum ?? ''), runId: r?.run_id ?? null,
    })),
  };
  const out = await exec(INGEST_BATCH, { batch });
  if (out.errors?.length) return sendGraphQLErrors(res, out.errors, headers);
  const r = out.data!.ingestRecords;
  const invalid = r.results.filter((x: any) => x.status === 'REJECTED').map((x: any) => ({ record_id: x.recordId, code: x.code, message: x.message }));
  const status = invalid.some((x: any) => x.code === 'CHECKSUM_MISMATCH') ? 422 : 200;
  sendJson(res, status, {
    batch_id: r.batchId,
    processed_records: r.processed,
    duplicate_records: r.duplicates,
    invalid_records: invalid,
    results: r.results.map((x: any) => ({ record_id: x.recordId, status: x.status, id: x.id, code: x.code })),
  }, headers);
}

const INGEST_ONE = `mutation($userId: String!, $timestamp: String!, $payload: JSON!) { ingestRecord(userId: $userId, timestamp: $timestamp, payload: $payload) { id } }`;

/** `POST /api/v1/data_ingestion`: the data-ingestion seed's contract over `ingestRecord`. */
export async function dataIngestion(exec: Execute, body: any, res: ServerResponse, headers: Record<string, string>): Promise<void> {
  if (!body || typeof body !== 'object' || typeof body.user_id !== 'string' || typeof body.timestamp !== 'string' || body.data_payload === undefined) {
    return sendJson(res, 400, { error: 'BAD_REQUEST', detail: 'body must be {"user_id": string, "timestamp": ISO 8601 string, "data_payload": JSON}' }, headers);
  }
  const out = await exec(INGEST_ONE, { userId: body.user_id, timestamp: body.timestamp, payload: body.data_payload });
  if (out.errors?.length) return sendGraphQLErrors(res, out.errors, headers);
  sendJson(res, 201, { id: out.data!.ingestRecord.id }, headers);
}
