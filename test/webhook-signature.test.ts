import { createHmac } from 'node:crypto';
import { generateWebhookSecret, signWebhook, verifyWebhook, WEBHOOK_TOLERANCE_SECONDS } from '../subgraphs/flow-runs/webhook-signature';
import { openSecret, sealSecret } from '../subgraphs/flow-runs/secret-box';

// Known-answer vector of the Standard Webhooks reference library (libraries/javascript/src/webhook.test.ts, "sign function works").
const KAT = {
  secret: 'whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw',
  id: 'msg_p5jXN8AQM9LWM0D4loKWxJek',
  timestamp: 1614265330,
  body: '{"test": 2432232314}',
  signature: 'v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE=',
};

const NOW = 1_767_225_600;
const ID = 'msg_2KWPBgLlAfxdpx2AI54pPJ85f4W';
const BODY = Buffer.from('{"type":"run.completed","data":{"runId":"r-1"}}');

function headers(secret: string, body: Buffer | string = BODY, timestamp = NOW, id = ID) {
  return { id, timestamp: String(timestamp), signature: signWebhook(secret, id, timestamp, body) };
}

describe('webhook signature (Standard Webhooks v1)', () => {
  test('known-answer vector: the spec formula computed here with node:crypto, the published value and signWebhook agree', () => {
    const key = Buffer.from(KAT.secret.slice('whsec_'.length), 'base64');
    const independent = 'v1,' + createHmac('sha256', key).update(`${KAT.id}.${KAT.timestamp}.${KAT.body}`).digest('base64');
    expect(independent).toBe(KAT.signature);
    expect(signWebhook(KAT.secret, KAT.id, KAT.timestamp, KAT.body)).toBe(KAT.signature);
    expect(signWebhook(KAT.secret.slice('whsec_'.length), KAT.id, KAT.timestamp, Buffer.from(KAT.body))).toBe(KAT.signature);
    const h = { id: KAT.id, timestamp: String(KAT.timestamp), signature: KAT.signature };
    expect(verifyWebhook([KAT.secret], h, Buffer.from(KAT.body), KAT.timestamp)).toEqual({ ok: true });
  });

  test('generated secrets are whsec_ + base64 of 32 random bytes', () => {
    const secret = generateWebhookSecret();
    expect(secret).toMatch(/^whsec_[A-Za-z0-9+/]{43}=$/);
    expect(Buffer.from(secret.slice(6), 'base64')).toHaveLength(32);
    expect(generateWebhookSecret()).not.toBe(secret);
  });

  test('a good signature verifies, with or without the whsec_ prefix on our side', () => {
    const secret = generateWebhookSecret();
    expect(verifyWebhook([secret], headers(secret), BODY, NOW)).toEqual({ ok: true });
    expect(verifyWebhook([secret.slice(6)], headers(secret), BODY, NOW)).toEqual({ ok: true });
  });

  test('the signature covers the raw bytes, not re-serialized JSON', () => {
    const secret = generateWebhookSecret();
    const raw = Buffer.from('{ "a": 1,\n  "b": "é" }');
    const h = headers(secret, raw);
    expect(verifyWebhook([secret], h, raw, NOW)).toEqual({ ok: true });
    expect(verifyWebhook([secret], h, Buffer.from(JSON.stringify(JSON.parse(raw.toString()))), NOW)).toMatchObject({ ok: false, reason: 'NO_MATCHING_SIGNATURE' });
    const binary = Buffer.from([0xff, 0xfe, 0x00, 0x80]); // not UTF-8: must not be decoded to a string on the way
    expect(verifyWebhook([secret], headers(secret, binary), binary, NOW)).toEqual({ ok: true });
  });

  test('a tampered body, id or timestamp fails', () => {
    const secret = generateWebhookSecret();
    const h = headers(secret);
    const tampered = Buffer.from(BODY);
    tampered[tampered.length - 3] ^= 1;
    expect(verifyWebhook([secret], h, tampered, NOW)).toMatchObject({ ok: false, reason: 'NO_MATCHING_SIGNATURE' });
    expect(verifyWebhook([secret], { ...h, id: ID + 'x' }, BODY, NOW)).toMatchObject({ ok: false, reason: 'NO_MATCHING_SIGNATURE' });
    expect(verifyWebhook([secret], { ...h, timestamp: String(NOW + 1) }, BODY, NOW)).toMatchObject({ ok: false, reason: 'NO_MATCHING_SIGNATURE' });
  });

  test('a wrong secret fails', () => {
    const result = verifyWebhook([generateWebhookSecret()], headers(generateWebhookSecret()), BODY, NOW);
    expect(result).toEqual({ ok: false, reason: 'NO_MATCHING_SIGNATURE', message: expect.any(String) });
  });

  test(`timestamps more than ${WEBHOOK_TOLERANCE_SECONDS} s old or ahead are refused; the edge of the window is accepted`, () => {
    const secret = generateWebhookSecret();
    for (const offset of [-301, 301]) {
      expect(verifyWebhook([secret], headers(secret, BODY, NOW + offset), BODY, NOW)).toMatchObject({ ok: false, reason: 'TIMESTAMP_OUT_OF_TOLERANCE' });
    }
    for (const offset of [-300, 300]) {
      expect(verifyWebhook([secret], headers(secret, BODY, NOW + offset), BODY, NOW)).toEqual({ ok: true });
    }
  });

  test('several signatures (sender rotation): the second one matching is enough', () => {
    const current = generateWebhookSecret();
    const h = headers(current);
    const stale = headers(generateWebhookSecret()).signature;
    expect(verifyWebhook([current], { ...h, signature: `${stale} ${h.signature}` }, BODY, NOW)).toEqual({ ok: true });
    expect(verifyWebhook([current], { ...h, signature: `${stale} v1,${'A'.repeat(43)}=` }, BODY, NOW)).toMatchObject({ ok: false, reason: 'NO_MATCHING_SIGNATURE' });
  });

  test('several secrets (our rotation): any one verifying is enough', () => {
    const [oldSecret, newSecret] = [generateWebhookSecret(), generateWebhookSecret()];
    expect(verifyWebhook([newSecret, oldSecret], headers(oldSecret), BODY, NOW)).toEqual({ ok: true });
    expect(verifyWebhook([newSecret, oldSecret], headers(newSecret), BODY, NOW)).toEqual({ ok: true });
  });

  test('entries of other versions (v1a, v2) are ignored even when they carry a valid HMAC', () => {
    const secret = generateWebhookSecret();
    const h = headers(secret);
    const sig = h.signature.slice(3);
    expect(verifyWebhook([secret], { ...h, signature: `v1a,${sig} v2,${sig}` }, BODY, NOW)).toMatchObject({ ok: false, reason: 'NO_MATCHING_SIGNATURE' });
    expect(verifyWebhook([secret], { ...h, signature: `v1a,${sig} v1,${sig}` }, BODY, NOW)).toEqual({ ok: true });
  });

  test('malformed headers are refused with a reason, never an exception', () => {
    const secret = generateWebhookSecret();
    const h = headers(secret);
    const reason = (over: Partial<typeof h>) => {
      const result = verifyWebhook([secret], { ...h, ...over }, BODY, NOW);
      return result.ok ? 'ok' : result.reason;
    };
    expect(reason({ id: undefined })).toBe('MISSING_HEADERS');
    expect(reason({ timestamp: '' })).toBe('MISSING_HEADERS');
    expect(reason({ signature: undefined })).toBe('MISSING_HEADERS');
    for (const timestamp of ['soon', `${NOW}.0`, `-${NOW}`, '1.7e9', ` ${NOW}`, `0${NOW}`, '0x6954c700']) {
      expect(reason({ timestamp })).toBe('BAD_TIMESTAMP');
    }
    for (const signature of ['garbage', 'v1,', 'v1', ',', ' ', `v1,${h.signature.slice(3, 20)}`, `v1,${h.signature.slice(3)}AAAA`, 'v1,!!!!', `V1,${h.signature.slice(3)}`]) {
      expect(reason({ signature })).toBe('NO_MATCHING_SIGNATURE');
    }
    expect(reason({})).toBe('ok');
  });

  test('our own misconfiguration throws', () => {
    expect(() => verifyWebhook([], headers(generateWebhookSecret()), BODY, NOW)).toThrow(/at least one secret/);
    expect(() => verifyWebhook(['whsec_not base64!'], headers(generateWebhookSecret()), BODY, NOW)).toThrow(/base64/);
    expect(() => verifyWebhook(['whsec_'], headers(generateWebhookSecret()), BODY, NOW)).toThrow(/base64/);
  });
});

describe('secret box (webhook secrets at rest)', () => {
  const KEY = 'a-high-entropy-service-key-from-config';

  test('round trip, with a fresh IV each time', () => {
    const secret = generateWebhookSecret();
    const sealed = sealSecret(secret, KEY);
    expect(sealed).toMatch(/^v1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9_-]+$/);
    expect(sealed).not.toContain(secret.slice(6));
    expect(openSecret(sealed, KEY)).toBe(secret);
    expect(sealSecret(secret, KEY)).not.toBe(sealed);
    expect(openSecret(sealSecret('', KEY), KEY)).toBe('');
  });

  test('any changed byte of IV, tag or ciphertext is detected', () => {
    const sealed = sealSecret(generateWebhookSecret(), KEY);
    const parts = sealed.split('.');
    for (const index of [1, 2, 3]) {
      const bytes = Buffer.from(parts[index], 'base64url');
      bytes[bytes.length >> 1] ^= 0x01;
      const tampered = parts.map((p, i) => (i === index ? bytes.toString('base64url') : p)).join('.');
      expect(() => openSecret(tampered, KEY)).toThrow('openSecret: authentication failed (wrong key or tampered sealed secret)');
    }
  });

  test('malformed input is refused with a clear error', () => {
    const sealed = sealSecret('whsec_x', KEY);
    expect(() => openSecret(sealed.replace(/^v1/, 'v2'), KEY)).toThrow(/not a v1 sealed secret/);
    expect(() => openSecret(sealed.split('.').slice(0, 3).join('.'), KEY)).toThrow(/not a v1 sealed secret/);
    expect(() => openSecret(sealed + '!', KEY)).toThrow(/malformed/);
    expect(() => openSecret(sealed.replace('.', '.AA'), KEY)).toThrow(/malformed/);
  });

  test('a wrong key cannot open it', () => {
    const sealed = sealSecret(generateWebhookSecret(), KEY);
    expect(() => openSecret(sealed, KEY + 'x')).toThrow(/wrong key or tampered/);
    expect(() => sealSecret('x', '')).toThrow(/must not be empty/);
  });
});
