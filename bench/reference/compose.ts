import { composeServices } from '@apollo/composition';
import { REFERENCE_SUBGRAPHS, TYPE_DEFS } from './schema';

/** Composes the reference supergraph (Federation 2) with @apollo/composition; throws on composition errors. */
export function composeReference(urls: Record<string, string>): string {
  const result = composeServices(REFERENCE_SUBGRAPHS.map((name) => ({ name, typeDefs: TYPE_DEFS[name], url: urls[name] })));
  if (result.errors?.length) throw new Error(`composition failed: ${result.errors.map((e) => e.message).join('; ')}`);
  return result.supergraphSdl!;
}
