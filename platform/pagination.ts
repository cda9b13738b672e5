import { codedError } from './errors';

/** Opaque cursors over a bigserial `seq` column; the prefix keeps one list's cursor out of another. */
export function encodeCursor(prefix: string, seq: string): string {
  return Buffer.from(`${prefix}:${seq}`).toString('base64url');
}

export function decodeCursor(prefix: string, cursor: string): string {
  const raw = Buffer.from(cursor, 'base64url').toString('utf8');
  const seq = raw.slice(prefix.length + 1);
  if (!raw.startsWith(`${prefix}:`) || !/^\d+$/.test(seq)) throw codedError('BAD_USER_INPUT', 'invalid cursor');
  return seq;
}

export function checkPageSize(first: number, max: number): void {
  if (!Number.isInteger(first) || first < 1 || first > max) throw codedError('BAD_USER_INPUT', `first must be between 1 and ${max}`);
}

/** Rows fetched with limit first + 1 → one page and whether another follows. */
export function page<T extends { seq: string }>(rows: T[], first: number, prefix: string) {
  const nodes = rows.slice(0, first);
  const edges = nodes.map((node) => ({ cursor: encodeCursor(prefix, node.seq), node }));
  return { edges, pageInfo: { hasNextPage: rows.length > first, endCursor: edges.length ? edges[edges.length - 1].cursor : null } };
}
