/** EXPERIMENT baseline: gateway/auth.ts as it was before issue 5 (every JWT verified on every request). */
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, errors as joseErrors, type JWTPayload } from 'jose';
import type { Identity } from '../../platform/identity';
import type { ApiKeyStore } from '../../gateway/api-keys';

export class AuthError extends Error {
  constructor(message: string, readonly code: 'UNAUTHENTICATED' | 'FORBIDDEN' = 'UNAUTHENTICATED') { super(message); }
}

export interface AuthOptions {
  jwtSecret: string;
  jwksFile?: string;
  jwksUrl?: string;
  keys: ApiKeyStore;
}

/** Verifies `Authorization: Bearer <JWT>` or `X-API-Key` and returns who is calling. */
export class Authenticator {
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
    let payload: JWTPayload;
    try {
      const alg = JSON.parse(Buffer.from(token.split('.')[0] ?? '', 'base64url').toString('utf8')).alg as string;
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
    return { tenantId, subject: payload.sub!, kind: 'user', scopes: scope, correlationId };
  }
}
