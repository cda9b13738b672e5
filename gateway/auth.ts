import { readFileSync } from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, errors as joseErrors, type JWTPayload } from 'jose';
import type { Identity } from '../platform/identity';
import type { ApiKeyStore } from './api-keys';

export class AuthError extends Error {
  constructor(message: string, readonly code: 'UNAUTHENTICATED' | 'FORBIDDEN' = 'UNAUTHENTICATED') { super(message); }
}

export interface AuthOptions {
  jwtSecret: string;
  jwksFile?: string;
  jwksUrl?: string;
  keys: ApiKeyStore;
}

/** A token that verified, kept until its `exp` so repeat requests skip signature verification. */
interface VerifiedJwt { tenantId: string; subject: string; scopes: string[]; exp: number }
const VERIFIED_CACHE_SIZE = 10_000;

/** Verifies `Authorization: Bearer <JWT>` or `X-API-Key` and returns who is calling. */
export class Authenticator {
  /**
   * Tokens that verified (keyed by the whole token string, signature included, so only the very same bytes
   * hit), until their exp. Only for keys that cannot change while the process runs: the HS256 secret and a
   * JWKS file; a remote JWKS may rotate, so those tokens are verified every time.
   */
  private verified = new Map<string, VerifiedJwt>();
  private secret: Uint8Array;
  private jwks?: ReturnType<typeof createRemoteJWKSet> | ReturnType<typeof createLocalJWKSet>;

  constructor(private opts: AuthOptions) {
    this.secret = new TextEncoder().encode(opts.jwtSecret);
    if (opts.jwksFile) this.jwks = createLocalJWKSet(JSON.parse(readFileSync(opts.jwksFile, 'utf8')));
    else if (opts.jwksUrl) this.jwks = createRemoteJWKSet(new URL(opts.jwksUrl));
  }

  async authenticate(headers: { authorization?: string; apiKey?: string }, correlationId: string): Promise<Identity> {
    if (headers.authorization) {
      const m = /^Bearer\s+(\S+)$/i.exec(headers.authorization);
      if (!m) throw new AuthError('Authorization header must be "Bearer <token>"');
      return this.fromJwt(m[1], correlationId);
    }
    if (headers.apiKey) {
      const key = await this.opts.keys.lookup(headers.apiKey);
      if (!key) throw new AuthError('unknown or revoked API key');
      return { tenantId: key.tenantId, subject: `apikey:${key.id}`, kind: 'apikey', scopes: ['ingest'], source: key.source, correlationId };
    }
    throw new AuthError('credentials required: send Authorization: Bearer <JWT> or X-API-Key');
  }

  private async fromJwt(token: string, correlationId: string): Promise<Identity> {
    const hit = this.verified.get(token);
    if (hit) {
      // jose's rule: expired once exp <= now (seconds, no clock tolerance)
      if (hit.exp > Math.floor(Date.now() / 1000)) return { tenantId: hit.tenantId, subject: hit.subject, kind: 'user', scopes: [...hit.scopes], correlationId };
      this.verified.delete(token);
      throw new AuthError('token expired');
    }
    let payload: JWTPayload;
    let cacheable = false;
    try {
      const alg = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')).alg as string;
      cacheable = alg === 'HS256' || !!this.opts.jwksFile;
      if (alg === 'HS256') payload = (await jwtVerify(token, this.secret, { algorithms: ['HS256'], requiredClaims: ['exp', 'sub'] })).payload;
      else if (this.jwks && (alg === 'RS256' || alg === 'ES256')) payload = (await jwtVerify(token, this.jwks, { algorithms: ['RS256', 'ES256'], requiredClaims: ['exp', 'sub'] })).payload;
      else throw new AuthError(`unsupported token algorithm "${alg}"`);
    } catch (err) {
      if (err instanceof AuthError) throw err;
      if (err instanceof joseErrors.JWTExpired) throw new AuthError('token expired');
      if (err instanceof joseErrors.JWTClaimValidationFailed) throw new AuthError(`token claim invalid: ${err.message}`);
      throw new AuthError('token invalid');
    }
    const tenantId = payload.tenant_id;
    if (typeof tenantId !== 'string' || !tenantId) throw new AuthError('token has no tenant_id claim');
    const scope = typeof payload.scope === 'string' ? payload.scope.split(' ').filter(Boolean) : [];
    if (cacheable && typeof payload.exp === 'number') {
      if (this.verified.size >= VERIFIED_CACHE_SIZE) this.verified.delete(this.verified.keys().next().value!);
      this.verified.set(token, { tenantId, subject: payload.sub!, scopes: [...scope], exp: payload.exp });
    }
    return { tenantId, subject: payload.sub!, kind: 'user', scopes: scope, correlationId };
  }
}
