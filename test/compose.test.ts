import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { composeSupergraph } from '../scripts/supergraph';

test('committed schema files are what `npm run compose` produces, and composition has no errors', async () => {
  const { subgraphs, supergraph } = await composeSupergraph();
  const dir = join(__dirname, '..', 'schema');
  for (const [name, sdl] of Object.entries(subgraphs)) {
    expect({ name, sdl: readFileSync(join(dir, `${name}.graphql`), 'utf8') }).toEqual({ name, sdl });
  }
  expect(readFileSync(join(dir, 'supergraph.graphql'), 'utf8')).toEqual(supergraph);
});
