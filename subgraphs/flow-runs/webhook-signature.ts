import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * Standard Webhooks (https://www.standardwebhooks.com, spec 1.0) symmetric signatures:
 * `v1,` + base64(HMAC-SHA256(key, `${webhook-id}.${webhook-timestamp}.${raw body}`)),
 * key = base64-decoded secret after the `whsec_` prefix.
 */
export const WEBHOOK_TOLERANCE_SECONDS = 300;

const SECRET_PREFIX = 'whsec_';
const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;
// Integer Unix seconds, no sign, no leading zeros, no exponent: one spelling per instant.
const UNIX_SECONDS = /^(0|[1-9][0-9]{0,11})$/;

export type WebhookVerifyFailure = 'MISSING_HEADERS' | 'BAD_TIMESTAMP' | 'TIMESTAMP_OUT_OF_TOLERANCE' | 'NO_MATCHING_SIGNATURE';

export function generateWebhookSecret(): string {
  return SECRET_PREFIX + randomBytes(32).toString('base64');
}

function hmacKey(secret: string): Buffer {
  const encoded = secret.startsWith(SECRET_PREFIX) ? secret.slice(SECRET_PREFIX.length) : secret;
  if (!BASE64.test(encoded)) throw new Error('webhook secret must be "whsec_" followed by base64 (or bare base64)');
  return Buffer.from(encoded, 'base64');
}

function signature(key: Buffer, msgId: string, timestamp: string, body: Buffer | string): string {
  const raw = typeof body === 'string' ? Buffer.from(body, 'utf8') : body;
  return createHmac('sha256', key).update(`${msgId}.${timestamp}.`).update(raw).digest('base64');
}

/** The `webhook-signature` header value a sender would send (for tests and docs). */
export function signWebhook(secret: string, msgId: string, timestampSeconds: number, body: Buffer | string): string {
  if (!Number.isSafeInteger(timestampSeconds) || timestampSeconds < 0) throw new Error('timestampSeconds must be integer Unix seconds');
  return `v1,${signature(hmacKey(secret), msgId, String(timestampSeconds), body)}`;
}

const fail = (reason: WebhookVerifyFailure, message: string) => ({ ok: false as const, reason, message });

/**
 * Accepts the delivery when any `v1` entry of the signature header matches any of `secrets`
 * (both sides may rotate keys). `body` must be the raw request bytes, never re-serialized JSON.
 * Throws only on our own misconfiguration (no secret, or a secret that is not base64).
 */
export function verifyWebhook(
  secrets: string[],
  headers: { id?: string; timestamp?: string; signature?: string },
  body: Buffer,
  nowSeconds: number = Math.floor(Date.now() / 1000),
): { ok: true } | { ok: false; reason: WebhookVerifyFailure; message: string } {
  if (secrets.length === 0) throw new Error('verifyWebhook needs at least one secret');
  const keys = secrets.map(hmacKey);
  const { id, timestamp, signature: header } = headers;
  if (!id || !timestamp || !header) return fail('MISSING_HEADERS', 'webhook-id, webhook-timestamp and webhook-signature headers are required');
  if (!UNIX_SECONDS.test(timestamp)) return fail('BAD_TIMESTAMP', 'webhook-timestamp must be integer Unix seconds');
  if (Math.abs(nowSeconds - Number(timestamp)) > WEBHOOK_TOLERANCE_SECONDS) {
    return fail('TIMESTAMP_OUT_OF_TOLERANCE', `webhook-timestamp is more than ${WEBHOOK_TOLERANCE_SECONDS} s away from the current time`);
  }
  const given = header.split(' ').filter((entry) => entry.startsWith('v1,')).map((entry) => Buffer.from(entry.slice(3)));
  for (const key of keys) {
    const expected = Buffer.from(signature(key, id, timestamp, body));
    // Lengths are public (a SHA-256 base64 is always 44 chars); only equal-length buffers reach timingSafeEqual.
    if (given.some((candidate) => candidate.length === expected.length && timingSafeEqual(candidate, expected))) return { ok: true };
  }
  return fail('NO_MATCHING_SIGNATURE', 'no v1 signature in webhook-signature matches the body and a configured secret');
}
