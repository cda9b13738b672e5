import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { composeSupergraph } from './supergraph';
import { REPO_ROOT } from './platform';

/** `npm run compose`: writes schema/<subgraph>.graphql and schema/supergraph.graphql. */
async function main() {
  const dir = join(REPO_ROOT, 'schema');
  const { subgraphs, supergraph } = await composeSupergraph();
  for (const [name, sdl] of Object.entries(subgraphs)) {
    writeFileSync(join(dir, `${name}.graphql`), sdl);
    console.log(`wrote schema/${name}.graphql`);
  }
  writeFileSync(join(dir, 'supergraph.graphql'), supergraph);
  console.log('wrote schema/supergraph.graphql');
}

main().catch((err) => { console.error(err.message); process.exit(1); });
