import { createHash } from 'node:crypto';

/**
 * RFC 8785 (JSON Canonicalization Scheme): object members sorted by UTF-16 code units, no whitespace,
 * strings and numbers serialized exactly as ECMAScript's JSON.stringify does.
 */
export function canonicalize(value: unknown): string {
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return JSON.stringify(value);
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) throw new TypeError('JCS cannot represent NaN or Infinity');
    return JSON.stringify(value);
  }
  if (Array.isArray(value)) return `[${value.map(canonicalize).join(',')}]`;
  if (typeof value === 'object') {
    const obj = value as Record<string, unknown>;
    const members = Object.keys(obj)
      .filter((k) => obj[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${canonicalize(obj[k])}`);
    return `{${members.join(',')}}`;
  }
  throw new TypeError(`JCS cannot represent a ${typeof value}`);
}

export function sha256Hex(text: string): string {
  return createHash('sha256').update(text, 'utf8').digest('hex');
}

/** The checksum edge clients send with each record: lowercase hex SHA-256 of the JCS form of the payload. */
export function payloadChecksum(payload: unknown): string {
  return sha256Hex(canonicalize(payload));
}
