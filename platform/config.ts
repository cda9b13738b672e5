/** Every environment variable the platform reads, with its default. The README's table mirrors this file. */
export interface PlatformConfig {
  databaseUrl?: string;
  kafkaBrokers?: string[];
  redisUrl?: string;
  jwtSecret: string;
  jwksFile?: string;
  jwksUrl?: string;
  internalSecret: string;
  /** Key that seals stored secrets (webhook signing secrets); defaults to INTERNAL_SECRET. */
  secretsKey: string;
  dataDir: string;
  gatewayPort: number;
  maxBatchRecords: number;
  maxPayloadBytes: number;
  maxBodyBytes: number;
  /** Longest worst-case path through a flow (task timeout × attempts), in seconds; policy "flow-timeout". */
  flowMaxTotalTimeoutSeconds: number;
  maxSubscriptionsPerConnection: number;
  maxConnectionsPerTenant: number;
  /** Events that may wait for one slow subscriber before it is disconnected (SUBSCRIBER_TOO_SLOW). */
  subscriptionBufferEvents: number;
  /** How often open subscriptions re-check their credentials (revoked API keys). */
  subscriptionAuthRecheckMs: number;
}

function int(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n <= 0) throw new Error(`${name} must be a positive integer, got "${raw}"`);
  return n;
}

export function loadConfig(): PlatformConfig {
  return {
    databaseUrl: process.env.DATABASE_URL || undefined,
    kafkaBrokers: process.env.KAFKA_BROKERS ? process.env.KAFKA_BROKERS.split(',').map((s) => s.trim()) : undefined,
    redisUrl: process.env.REDIS_URL || undefined,
    jwtSecret: process.env.JWT_SECRET || 'dev-jwt-secret-change-me',
    jwksFile: process.env.JWKS_FILE || undefined,
    jwksUrl: process.env.JWKS_URL || undefined,
    internalSecret: process.env.INTERNAL_SECRET || 'dev-internal-secret-change-me',
    secretsKey: process.env.SECRETS_KEY || process.env.INTERNAL_SECRET || 'dev-internal-secret-change-me',
    dataDir: process.env.DATA_DIR || '.data',
    gatewayPort: int('GATEWAY_PORT', 4000),
    maxBatchRecords: int('MAX_BATCH_RECORDS', 500),
    maxPayloadBytes: int('MAX_PAYLOAD_BYTES', 1024 * 1024),
    maxBodyBytes: int('MAX_BODY_BYTES', 5 * 1024 * 1024),
    flowMaxTotalTimeoutSeconds: int('FLOW_MAX_TOTAL_TIMEOUT_SECONDS', 24 * 3600),
    maxSubscriptionsPerConnection: int('MAX_SUBSCRIPTIONS_PER_CONNECTION', 100),
    maxConnectionsPerTenant: int('MAX_CONNECTIONS_PER_TENANT', 1000),
    subscriptionBufferEvents: int('SUBSCRIPTION_BUFFER_EVENTS', 1000),
    subscriptionAuthRecheckMs: int('SUBSCRIPTION_AUTH_RECHECK_MS', 30_000),
  };
}

/** Subgraph ports: fixed offsets from SUBGRAPH_BASE_PORT so the gateway and compose files agree. */
export const SUBGRAPHS = ['records', 'audit', 'flow-runs'] as const;
export type SubgraphName = (typeof SUBGRAPHS)[number];

/** `flow-runs` → `FLOW_RUNS`, the prefix of its `_PORT` / `_URL` variables. */
const envPrefix = (name: SubgraphName) => name.toUpperCase().replace(/-/g, '_');

export function subgraphPort(name: SubgraphName): number {
  const override = process.env[`${envPrefix(name)}_PORT`];
  if (override) return Number(override);
  return int('SUBGRAPH_BASE_PORT', 4001) + SUBGRAPHS.indexOf(name);
}

export function subgraphUrl(name: SubgraphName): string {
  const override = process.env[`${envPrefix(name)}_URL`];
  return override || `http://127.0.0.1:${subgraphPort(name)}/graphql`;
}
