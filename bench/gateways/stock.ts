/**
 * Stock `@apollo/gateway` + `@apollo/server` with default options (startStandaloneServer), as a user would start
 * it from the docs. `node dist/bench/gateways/stock.js <port> <supergraph file>`.
 */
import { readFileSync } from 'node:fs';
import { ApolloGateway } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';

async function main() {
  const [port, file] = process.argv.slice(2);
  const gateway = new ApolloGateway({ supergraphSdl: readFileSync(file, 'utf8') });
  const server = new ApolloServer({ gateway });
  const { url } = await startStandaloneServer(server, { listen: { port: Number(port), host: '127.0.0.1' } });
  process.on('SIGTERM', () => process.exit(0)); // lets `node --cpu-prof` write its profile
  process.send?.({ ready: true, url });
}

main().catch((err) => { console.error(err); process.exit(1); });
