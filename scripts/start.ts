import 'reflect-metadata';
import { loadConfig } from '../platform/config';
import { startPlatform } from './platform';

async function main() {
  const config = loadConfig();
  const platform = await startPlatform(config);
  console.log(`gateway   ${platform.gateway.url}/graphql  (health: /health, ready: /ready)`);
  for (const s of platform.subgraphs) console.log(`${s.name.padEnd(9)} ${s.url}`);
  console.log(`database  ${config.databaseUrl ? 'PostgreSQL at DATABASE_URL' : `embedded (PGlite) under ${config.dataDir}/`}`);
  console.log(`events    ${config.kafkaBrokers ? `Kafka at ${config.kafkaBrokers.join(',')}` : 'in-process bus'}`);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: draining and shutting down`);
    setTimeout(() => { console.error('shutdown took over 15 s; exiting anyway'); process.exit(1); }, 15000).unref();
    await platform.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err) => { console.error(err); process.exit(1); });
