import { SignJWT } from 'jose';
import { randomUUID } from 'node:crypto';
import { loadConfig } from '../platform/config';
import { openApiKeyStore } from '../gateway/api-keys';

const USAGE = `usage:
  npm run cli -- mint-jwt --tenant T --sub USER [--scope "a b"] [--ttl SECONDS]
  npm run cli -- create-key --tenant T --source SOURCE     (the key is printed once; only its hash is stored)
  npm run cli -- revoke-key --id KEY_ID
  npm run cli -- list-keys [--tenant T]`;

function flags(args: string[]): Record<string, string> {
  const out: Record<string, string> = {};
  for (let i = 0; i < args.length; i += 2) {
    if (!args[i].startsWith('--') || args[i + 1] === undefined) throw new Error(`bad argument "${args[i]}"\n${USAGE}`);
    out[args[i].slice(2)] = args[i + 1];
  }
  return out;
}

function need(f: Record<string, string>, name: string): string {
  if (!f[name]) throw new Error(`--${name} is required\n${USAGE}`);
  return f[name];
}

export async function mintJwt(secret: string, claims: { tenant: string; sub: string; scope?: string; ttl?: number }): Promise<string> {
  return new SignJWT({ tenant_id: claims.tenant, ...(claims.scope ? { scope: claims.scope } : {}) })
    .setProtectedHeader({ alg: 'HS256' }).setSubject(claims.sub).setJti(randomUUID()).setIssuedAt()
    .setExpirationTime(Math.floor(Date.now() / 1000) + (claims.ttl ?? 3600)).sign(new TextEncoder().encode(secret));
}

async function main() {
  const [command, ...rest] = process.argv.slice(2);
  const f = flags(rest);
  const config = loadConfig();
  if (command === 'mint-jwt') {
    console.log(await mintJwt(config.jwtSecret, { tenant: need(f, 'tenant'), sub: need(f, 'sub'), scope: f.scope, ttl: f.ttl ? Number(f.ttl) : undefined }));
    return;
  }
  const keys = openApiKeyStore(config.databaseUrl, config.dataDir);
  try {
    if (command === 'create-key') {
      const { id, key } = await keys.create(need(f, 'tenant'), need(f, 'source'));
      console.log(JSON.stringify({ id, key, note: 'store the key now: it is not shown again' }));
    } else if (command === 'revoke-key') {
      const ok = await keys.revoke(need(f, 'id'));
      console.log(ok ? 'revoked' : 'no such active key');
      if (!ok) process.exitCode = 1;
    } else if (command === 'list-keys') {
      for (const k of await keys.list(f.tenant)) console.log(JSON.stringify({ id: k.id, tenantId: k.tenantId, source: k.source, createdAt: k.createdAt, revokedAt: k.revokedAt }));
    } else {
      throw new Error(USAGE);
    }
  } finally {
    await keys.close();
  }
}

if (require.main === module) main().catch((err) => { console.error(err.message); process.exit(2); });
