import 'reflect-metadata';
import { loadConfig } from '../platform/config';
import { openDatabase } from '../platform/db';
import { AuditEventRow } from '../subgraphs/audit/entities';
import { migrations, SCHEMA } from '../subgraphs/audit/migrations';
import { verifyChain } from '../subgraphs/audit/service';

/** `npm run verify-audit -- TENANT`: recomputes the tenant's audit chain; exit 1 names the first broken link. */
async function main() {
  const tenant = process.argv[2];
  if (!tenant) throw new Error('usage: npm run verify-audit -- TENANT_ID');
  const config = loadConfig();
  const db = await openDatabase({ schema: SCHEMA, entities: [AuditEventRow], migrations, databaseUrl: config.databaseUrl, dataDir: config.dataDir });
  try {
    const report = await verifyChain(db.em(), tenant);
    console.log(JSON.stringify(report));
    if (!report.ok) process.exitCode = 1;
  } finally {
    await db.close();
  }
}

main().catch((err) => { console.error(err.message); process.exit(2); });
