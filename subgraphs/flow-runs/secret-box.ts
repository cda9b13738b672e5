import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto';

/**
 * Webhook secrets at rest: AES-256-GCM under a key derived with HKDF-SHA256 (info "webhook-secret")
 * from the service's secret key, which must itself be high-entropy (HKDF does not stretch passwords).
 * Format: `v1.<iv>.<tag>.<ciphertext>`, each part base64url without padding.
 */
const VERSION = 'v1';
const IV_BYTES = 12;
const TAG_BYTES = 16;

function aesKey(key: string): Buffer {
  if (!key) throw new Error('secret-box: the sealing key must not be empty');
  return Buffer.from(hkdfSync('sha256', key, Buffer.alloc(0), 'webhook-secret', 32));
}

export function sealSecret(plain: string, key: string): string {
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', aesKey(key), iv);
  cipher.setAAD(Buffer.from(VERSION));
  const ciphertext = Buffer.concat([cipher.update(plain, 'utf8'), cipher.final()]);
  return [VERSION, iv, cipher.getAuthTag(), ciphertext].map((p) => (typeof p === 'string' ? p : p.toString('base64url'))).join('.');
}

/** Decodes strictly: Node's base64url decoder ignores stray characters, which would let an edited string open. */
function decodePart(part: string, expectedBytes?: number): Buffer {
  const bytes = Buffer.from(part, 'base64url');
  if (bytes.toString('base64url') !== part || (expectedBytes !== undefined && bytes.length !== expectedBytes)) {
    throw new Error('openSecret: malformed sealed secret');
  }
  return bytes;
}

export function openSecret(sealed: string, key: string): string {
  const parts = sealed.split('.');
  if (parts.length !== 4 || parts[0] !== VERSION) throw new Error(`openSecret: not a ${VERSION} sealed secret`);
  const [iv, tag, ciphertext] = [decodePart(parts[1], IV_BYTES), decodePart(parts[2], TAG_BYTES), decodePart(parts[3])];
  const decipher = createDecipheriv('aes-256-gcm', aesKey(key), iv, { authTagLength: TAG_BYTES });
  decipher.setAAD(Buffer.from(VERSION));
  decipher.setAuthTag(tag);
  try {
    return Buffer.concat([decipher.update(ciphertext), decipher.final()]).toString('utf8');
  } catch {
    throw new Error('openSecret: authentication failed (wrong key or tampered sealed secret)');
  }
}
