/**
 * Experiments on gateway/server.ts without touching it (others edit it): writes patched copies of the compiled
 * dist/gateway/server.js next to it; `BENCH_GATEWAY_MODULE=<file> node dist/bench/gateways/ours.js …` runs one.
 * `node dist/bench/experiments/patch-server.js` prints the files it wrote.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = join(__dirname, '..', '..', 'gateway');
const src = readFileSync(join(dir, 'server.js'), 'utf8');
// Find `new ApolloServer({ ... })`'s options and add plugins (into an existing `plugins: [` when there is one).
const at = src.indexOf('new server_1.ApolloServer({');
if (at < 0) throw new Error('server.js changed: new ApolloServer({ not found');
const close = src.indexOf('});', at);
const options = src.slice(at, close);
function withPlugins(plugins: string): string {
  const patched = options.includes('plugins: [') ? options.replace('plugins: [', `plugins: [${plugins}, `) : `${options.trimEnd()} plugins: [${plugins}],\n    `;
  return src.slice(0, at) + patched + src.slice(close);
}
const DEDUPE = "require('../bench/experiments/inflight-dedupe').inflightDedupePlugin()";
const NOCACHE = "require('@apollo/server/plugin/disabled').ApolloServerPluginCacheControlDisabled()";
const swap = (text: string, from: string, to: string) => { if (!text.includes(from)) throw new Error(`server.js: ${from} not found`); return text.split(from).join(to); };
const variants: Record<string, string> = {
  // before issue 5: stock RemoteGraphQLDataSource fetch stack, JWT verified every time
  before: swap(swap(src, 'require("./data-source")', 'require("../bench/experiments/data-source-before")'), 'require("./auth")', 'require("../bench/experiments/auth-before")'),
  // the undici data source with its in-flight merging off
  nodsdedupe: swap(src, 'require("./data-source")', 'require("./data-source-nodedupe")'),
  // JWT verified every time (auth cache off)
  noauthcache: swap(src, 'require("./auth")', 'require("../bench/experiments/auth-before")'),
  dedupe: withPlugins(DEDUPE), // merge identical in-flight incoming queries
  nocache: withPlugins(NOCACHE), // Apollo Server's default cache-control plugin off
  both: withPlugins(`${DEDUPE}, ${NOCACHE}`),
};
writeFileSync(join(dir, 'data-source-nodedupe.js'), swap(readFileSync(join(dir, 'data-source.js'), 'utf8'), 'opts.dedupe ?? true', 'opts.dedupe ?? false'));
for (const [name, replacement] of Object.entries(variants)) {
  const file = join(dir, `server-exp-${name}.js`);
  writeFileSync(file, replacement);
  console.log(file);
}
