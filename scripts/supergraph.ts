import 'reflect-metadata';
import { parse } from 'graphql';
import { composeServices } from '@apollo/composition';
import { printSubgraphSchema } from '@apollo/subgraph';
import { buildFederatedSchema, type SubgraphDefinition } from '../platform/subgraph-server';
import { SUBGRAPHS } from '../platform/config';
import { definition as records } from '../subgraphs/records/server';
import { definition as audit } from '../subgraphs/audit/server';
import { definition as flowRuns } from '../subgraphs/flow-runs/server';

const DEFINITIONS: Record<(typeof SUBGRAPHS)[number], SubgraphDefinition> = { records, audit, 'flow-runs': flowRuns };

/** Each subgraph's SDL and the composed supergraph; URLs are the default local ports (the gateway can override them). */
export async function composeSupergraph(): Promise<{ subgraphs: Record<string, string>; supergraph: string }> {
  const subgraphs: Record<string, string> = {};
  for (const name of SUBGRAPHS) subgraphs[name] = printSubgraphSchema(await buildFederatedSchema(DEFINITIONS[name]));
  const result = composeServices(SUBGRAPHS.map((name, i) => ({
    name, url: `http://127.0.0.1:${4001 + i}/graphql`, typeDefs: parse(subgraphs[name]),
  })));
  if (result.errors?.length) throw new Error(`composition failed:\n${result.errors.map((e) => `- ${e.message}`).join('\n')}`);
  return { subgraphs, supergraph: result.supergraphSdl! };
}
