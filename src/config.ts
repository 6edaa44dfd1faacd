import { parseCidr } from './auth/ip-allowlist.js';
import type { RateLimit } from './auth/principal.js';
import { parseRateSpec, RateLimitError } from './auth/rate-limits.js';
import { parseGithubScanningKeys, type GithubScanningKey } from './auth/github-scanning-keys.js';
import { createPublicKey } from 'node:crypto';
import path from 'node:path';

/** Everything the server reads from its environment, validated once at start (CONTRACT §6). */
export interface Config {
  host: string;
  port: number;
  database: { kind: 'sqlite'; file: string } | { kind: 'postgres'; url: string };
  dataDir: string;
  logLevel: 'fatal' | 'error' | 'warn' | 'info' | 'debug' | 'trace' | 'silent';
  clerk: {
    /** PEM public key of the Clerk instance; null when the local development issuer is used instead. */
    jwtKey: string | null;
    /** Trust the local development issuer (no CLERK_JWT_KEY). On by default for SQLite only. */
    devIssuer: boolean;
    issuer: string | null;
    authorizedParties: string[];
    emailClaim: string;
  };
  /** HMAC pepper for API key digests; null means "keep one in the data folder". */
  apiKeyPepper: Buffer | null;
  /** AES-256 key for cloud credentials at rest; null means "keep one in the data folder". */
  encryptionKey: Buffer | null;
  driver: 'simulated';
  simulatedStepMs: number;
  jobPollIntervalMs: number;
  jobLeaseMs: number;
  /** On SIGTERM, how long requests in flight may take to finish before their connections are cut. */
  shutdownDrainMs: number;
  /** Where clients reach this API (the `iss` of tokens we sign, links we hand out); no trailing slash. */
  publicUrl: string;
  /** The container registry's service name: the `aud` of registry tokens and the host images are pushed to. */
  registryService: string;
  /**
   * Proxies (addresses or CIDRs) whose `X-Forwarded-For` is believed: the client is then the left-most
   * hop not in this list. Empty: the socket's peer is the client, and the header is ignored.
   */
  trustProxy: string[];
  /** Rate limits (CONTRACT §7). */
  rateLimits: {
    /** RATE_LIMIT_DEFAULT: the limit of a key that sets none; null (unset) = no limit for such keys. */
    keyDefault: RateLimit | null;
    /** AUTH_FAILURE_LIMIT: invalid credentials per client address before 429; null = `off`. Default 60/60. */
    authFailures: RateLimit | null;
    /** REDIS_URL: shared counters across instances; null = counters in this process. */
    redisUrl: string | null;
    /** REDIS_KEY_PREFIX: the prefix of our Redis keys (default `skd:rl`), for deployments sharing one Redis. */
    redisKeyPrefix: string;
  };
  /** Signed calls SkaleData receives (CONTRACT §7); null = that endpoint answers 404. */
  inbound: {
    /** GITHUB_SECRET_SCANNING_KEYS: the keys GitHub signs secret-scanning alerts with. */
    githubScanningKeys: GithubScanningKey[] | null;
    /** CLERK_WEBHOOK_SECRET: the Svix signing secret (`whsec_…`) of the Clerk webhook endpoint. */
    clerkWebhookSecret: string | null;
  };
  /** In-process authentication caches (src/auth/key-cache.ts, session-cache.ts). */
  authCache: {
    /** How long a cached key answer is trusted without a reload (ms); 0 turns the key cache off. */
    ttlMs: number;
    maxKeys: number;
    maxUnknownKeys: number;
    maxSessions: number;
  };
  /** Outgoing webhooks (src/modules/webhooks/). */
  webhooks: {
    /** WEBHOOK_ALLOW_PRIVATE=on: destinations may be http:// and resolve to loopback/private addresses (development, tests). */
    allowPrivate: boolean;
    /** WEBHOOK_TIMEOUT_MS: how long one delivery attempt may take, connection to last byte (default 10 s). */
    timeoutMs: number;
  };
  /** API key activity, written behind the requests (src/modules/api-keys/key-activity.ts). */
  keyActivity: {
    /** How often noted requests are written (ms). */
    flushIntervalMs: number;
    /** Most requests noted in memory while waiting; past it the oldest are dropped (and counted). */
    bufferSize: number;
  };
  /**
   * Prometheus metrics (GET /metrics). Null when neither METRICS_TOKEN nor METRICS_PORT is set: nothing is
   * measured and no route serves them.
   */
  metrics:
    | {
        /** METRICS_TOKEN: the bearer token a scrape must present. On the API port, it is required. */
        token: string;
        listener: null;
      }
    | {
        /** Null (METRICS_PORT alone): the listener asks for no token. */
        token: string | null;
        /** METRICS_PORT and METRICS_HOST: a listener of its own serves /metrics, and the API port does not. */
        listener: { host: string; port: number };
      }
    | null;
}

export class ConfigError extends Error {
  constructor(
    readonly variable: string,
    reason: string,
  ) {
    super(`Invalid configuration: ${variable} ${reason}`);
    this.name = 'ConfigError';
  }
}

type Env = Record<string, string | undefined>;

function read(env: Env, name: string): string | undefined {
  const value = env[name];
  return value === undefined || value.trim() === '' ? undefined : value.trim();
}

function integer(env: Env, name: string, fallback: number, min: number, max: number): number {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (!/^\d+$/.test(raw) || Number(raw) < min || Number(raw) > max) {
    throw new ConfigError(name, `must be a whole number from ${min} to ${max} (got "${raw}")`);
  }
  return Number(raw);
}

/** A limit written `N/S` (requests per seconds), or a ConfigError naming the variable. */
function onOff(env: Env, name: string, fallback: boolean): boolean {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (raw !== 'on' && raw !== 'off') throw new ConfigError(name, `must be "on" or "off" (got "${raw}")`);
  return raw === 'on';
}

function rateSpec(env: Env, name: string, fallback: RateLimit | null, offWord: string | null): RateLimit | null {
  const raw = read(env, name);
  if (raw === undefined) return fallback;
  if (offWord !== null && raw.toLowerCase() === offWord) return null;
  try {
    return parseRateSpec(raw);
  } catch (error) {
    if (!(error instanceof RateLimitError)) throw error;
    const words = offWord === null ? '' : ` or ${offWord}`;
    throw new ConfigError(name, `must be N/S${words}: N requests (1-1000000) per S seconds (1-86400), e.g. 600/60 (got "${raw}"; ${error.field}: ${error.message})`);
  }
}

/** REDIS_URL: redis:// or rediss:// with a host. */
function redisUrl(env: Env): string | null {
  const raw = read(env, 'REDIS_URL');
  if (raw === undefined) return null;
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    throw new ConfigError('REDIS_URL', 'must be a URL such as redis://127.0.0.1:6379');
  }
  if ((url.protocol !== 'redis:' && url.protocol !== 'rediss:') || url.hostname === '') {
    throw new ConfigError('REDIS_URL', 'must be a redis:// or rediss:// URL with a host, e.g. redis://127.0.0.1:6379');
  }
  return raw;
}

function redisKeyPrefix(env: Env): string {
  const raw = read(env, 'REDIS_KEY_PREFIX') ?? 'skd:rl';
  if (!/^[A-Za-z0-9:_.-]{1,64}$/.test(raw)) throw new ConfigError('REDIS_KEY_PREFIX', `must be 1-64 letters, digits or :_.- (got "${raw.slice(0, 80)}")`);
  return raw;
}

/** Invalid credentials one client address may send per minute before 429 (AUTH_FAILURE_LIMIT unset). */
export const DEFAULT_AUTH_FAILURE_LIMIT: RateLimit = Object.freeze({ requests: 60, perSeconds: 60 });

function secretBytes(env: Env, name: string, exactLength: number | null): Buffer | null {
  const raw = read(env, name);
  if (raw === undefined) return null;
  const bytes = Buffer.from(raw, 'base64');
  const roundTrips = bytes.toString('base64').replace(/=+$/, '') === raw.replace(/=+$/, '');
  if (!roundTrips || (exactLength !== null ? bytes.length !== exactLength : bytes.length < 32)) {
    const want = exactLength !== null ? `exactly ${exactLength}` : 'at least 32';
    throw new ConfigError(name, `must be base64 of ${want} random bytes (e.g. \`openssl rand -base64 32\`)`);
  }
  return bytes;
}

/** `DATABASE_URL` as the app reads it (tests that open a database of their own use it too). */
export function parseDatabaseUrl(raw: string): Config['database'] {
  if (raw.startsWith('sqlite:')) {
    const file = raw.slice('sqlite:'.length).replace(/^\/\/(?=\/)/, '');
    if (file === '' || file === ':memory:') {
      throw new ConfigError('DATABASE_URL', 'must name a file for SQLite, e.g. sqlite:./data/skaledata.db');
    }
    return { kind: 'sqlite', file: path.resolve(file) };
  }
  if (raw.startsWith('postgres://') || raw.startsWith('postgresql://')) {
    try {
      new URL(raw);
    } catch {
      throw new ConfigError('DATABASE_URL', 'is not a valid postgres:// URL');
    }
    return { kind: 'postgres', url: raw };
  }
  throw new ConfigError('DATABASE_URL', 'must start with sqlite: or postgres://');
}

function parseClerkKey(raw: string | undefined): string | null {
  if (raw === undefined) return null;
  // Environment files often carry the PEM on one line with literal "\n".
  const pem = raw.replace(/\\n/g, '\n');
  try {
    const key = createPublicKey(pem);
    const details = key.asymmetricKeyDetails;
    if (key.asymmetricKeyType !== 'rsa' || details?.modulusLength !== 2048) throw new Error('not RSA-2048');
  } catch {
    throw new ConfigError('CLERK_JWT_KEY', 'must be the PEM public key (RSA 2048) shown in the Clerk dashboard');
  }
  return pem;
}

function inboundSettings(env: Env): Config['inbound'] {
  const keys = read(env, 'GITHUB_SECRET_SCANNING_KEYS');
  let githubScanningKeys: GithubScanningKey[] | null = null;
  if (keys !== undefined) {
    try {
      githubScanningKeys = parseGithubScanningKeys(keys);
    } catch (error) {
      throw new ConfigError('GITHUB_SECRET_SCANNING_KEYS', error instanceof Error ? error.message : 'is invalid');
    }
  }
  const clerkWebhookSecret = read(env, 'CLERK_WEBHOOK_SECRET') ?? null;
  // Svix secrets are `whsec_` + base64 of at least 24 random bytes (the Clerk dashboard shows them so).
  if (clerkWebhookSecret !== null && !(/^whsec_[A-Za-z0-9+/]+={0,2}$/.test(clerkWebhookSecret) && Buffer.from(clerkWebhookSecret.slice(6), 'base64').length >= 24)) {
    throw new ConfigError('CLERK_WEBHOOK_SECRET', 'must be the signing secret of the Clerk webhook endpoint (whsec_ followed by base64)');
  }
  return { githubScanningKeys, clerkWebhookSecret };
}

/** A bearer token (RFC 6750 b64token characters), long enough that guessing it is hopeless. */
const METRICS_TOKEN = /^[A-Za-z0-9\-._~+/]{16,512}=*$/;

/** METRICS_TOKEN, METRICS_PORT and METRICS_HOST; null when metrics are off (neither of the first two set). */
function metricsSettings(env: Env, apiPort: number): Config['metrics'] {
  const token = read(env, 'METRICS_TOKEN') ?? null;
  if (token !== null && !METRICS_TOKEN.test(token)) {
    throw new ConfigError('METRICS_TOKEN', 'must be 16 to 512 characters of A-Z a-z 0-9 - . _ ~ + / (e.g. `openssl rand -hex 32`)');
  }
  const host = read(env, 'METRICS_HOST');
  if (read(env, 'METRICS_PORT') === undefined) {
    // A host alone would look like metrics on that interface while nothing listens there.
    if (host !== undefined) throw new ConfigError('METRICS_HOST', 'is set but METRICS_PORT is not: the separate metrics listener needs both');
    return token === null ? null : { token, listener: null };
  }
  const port = integer(env, 'METRICS_PORT', 0, 0, 65535);
  if (port !== 0 && port === apiPort) throw new ConfigError('METRICS_PORT', `must differ from PORT (${apiPort}): metrics get a listener of their own`);
  if (host !== undefined && !/^[^\s/]+$/.test(host)) throw new ConfigError('METRICS_HOST', `must be an address or host name to listen on (got "${host.slice(0, 80)}")`);
  return { token, listener: { host: host ?? '127.0.0.1', port } };
}

/** PUBLIC_URL: an http(s) origin with an optional path, defaulting to where the server listens. */
function parsePublicUrl(raw: string | undefined, host: string, port: number): string {
  const fallback = `http://${host.includes(':') ? `[${host}]` : host}:${port}`;
  const value = raw ?? fallback;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new ConfigError('PUBLIC_URL', `must be an http:// or https:// URL (got "${value}")`);
  }
  if ((url.protocol !== 'http:' && url.protocol !== 'https:') || url.username !== '' || url.password !== '' || url.search !== '' || url.hash !== '') {
    throw new ConfigError('PUBLIC_URL', `must be an http:// or https:// URL without credentials, query or fragment (got "${value}")`);
  }
  return url.toString().replace(/\/+$/, '');
}

const REGISTRY_HOST = /^(?=.{1,253}(:|$))[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*(:\d{1,5})?$/;

const LOG_LEVELS = ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] as const;

export function loadConfig(env: Env = process.env): Config {
  const host = read(env, 'HOST') ?? '127.0.0.1';
  const port = integer(env, 'PORT', 8080, 0, 65535);
  const dataDir = path.resolve(read(env, 'DATA_DIR') ?? './data');
  // CONTRACT §6: the embedded database lives in the data folder unless DATABASE_URL says otherwise.
  const databaseUrl = read(env, 'DATABASE_URL') ?? `sqlite:${path.join(dataDir, 'skaledata.db')}`;
  const database = parseDatabaseUrl(databaseUrl);

  const logLevel = read(env, 'LOG_LEVEL') ?? 'info';
  if (!(LOG_LEVELS as readonly string[]).includes(logLevel)) {
    throw new ConfigError('LOG_LEVEL', `must be one of ${LOG_LEVELS.join(', ')} (got "${logLevel}")`);
  }

  const issuer = read(env, 'CLERK_ISSUER') ?? null;
  if (issuer !== null && !/^https:\/\/\S+$/.test(issuer)) {
    throw new ConfigError('CLERK_ISSUER', 'must be the https:// Frontend API URL of the Clerk instance');
  }
  const authorizedParties = (read(env, 'CLERK_AUTHORIZED_PARTIES') ?? '')
    .split(',')
    .map((party) => party.trim())
    .filter((party) => party !== '');
  for (const party of authorizedParties) {
    if (!/^https?:\/\/[^\s/]+$/.test(party)) {
      throw new ConfigError('CLERK_AUTHORIZED_PARTIES', `must list origins like https://app.example.com (got "${party}")`);
    }
  }
  const emailClaim = read(env, 'CLERK_EMAIL_CLAIM') ?? 'email';
  if (!/^[A-Za-z_][A-Za-z0-9_.-]{0,63}$/.test(emailClaim)) {
    throw new ConfigError('CLERK_EMAIL_CLAIM', 'must be a claim name');
  }

  const jwtKey = parseClerkKey(read(env, 'CLERK_JWT_KEY'));
  // A shared database means a real deployment: trusting tokens minted from a file in the data folder
  // must then be asked for explicitly.
  const devIssuerSetting = read(env, 'DEV_ISSUER');
  if (devIssuerSetting !== undefined && !['on', 'off'].includes(devIssuerSetting)) {
    throw new ConfigError('DEV_ISSUER', `must be "on" or "off" (got "${devIssuerSetting}")`);
  }
  if (jwtKey !== null && devIssuerSetting === 'on') {
    throw new ConfigError('DEV_ISSUER', 'cannot be "on" while CLERK_JWT_KEY is set: sessions come from Clerk');
  }
  const devIssuer = jwtKey === null && (devIssuerSetting === 'on' || (devIssuerSetting === undefined && database.kind === 'sqlite'));
  if (jwtKey === null && !devIssuer) {
    throw new ConfigError(
      'CLERK_JWT_KEY',
      database.kind === 'postgres'
        ? 'is required with PostgreSQL (or set DEV_ISSUER=on for a development setup)'
        : 'is required when DEV_ISSUER=off',
    );
  }

  const driver = read(env, 'INFRA_DRIVER') ?? 'simulated';
  if (driver !== 'simulated') {
    throw new ConfigError('INFRA_DRIVER', `must be "simulated", the only driver built in (got "${driver}")`);
  }

  const registryService = read(env, 'REGISTRY_SERVICE') ?? 'registry.skaledata.local';
  if (!REGISTRY_HOST.test(registryService)) {
    throw new ConfigError('REGISTRY_SERVICE', `must be a lowercase host name with an optional :port, e.g. registry.example.com (got "${registryService}")`);
  }

  const trustProxy = (read(env, 'TRUST_PROXY') ?? '')
    .split(',')
    .map((entry) => entry.trim())
    .filter((entry) => entry !== '')
    .map((entry) => {
      try {
        return parseCidr(entry).text;
      } catch (error) {
        throw new ConfigError('TRUST_PROXY', `must be comma-separated proxy addresses or CIDRs, e.g. 10.0.0.0/8,127.0.0.1 (${error instanceof Error ? error.message : 'invalid'})`);
      }
    });

  return {
    host,
    port,
    database,
    dataDir,
    logLevel: logLevel as Config['logLevel'],
    clerk: { jwtKey, devIssuer, issuer, authorizedParties, emailClaim },
    apiKeyPepper: secretBytes(env, 'API_KEY_PEPPER', null),
    encryptionKey: secretBytes(env, 'ENCRYPTION_KEY', 32),
    driver,
    simulatedStepMs: integer(env, 'SIMULATED_STEP_MS', 1500, 0, 600_000),
    jobPollIntervalMs: integer(env, 'JOB_POLL_INTERVAL_MS', 500, 10, 60_000),
    jobLeaseMs: integer(env, 'JOB_LEASE_MS', 30_000, 500, 3_600_000),
    shutdownDrainMs: integer(env, 'SHUTDOWN_DRAIN_MS', 10_000, 0, 600_000),
    publicUrl: parsePublicUrl(read(env, 'PUBLIC_URL'), host, port),
    registryService,
    trustProxy,
    rateLimits: {
      keyDefault: rateSpec(env, 'RATE_LIMIT_DEFAULT', null, null),
      authFailures: rateSpec(env, 'AUTH_FAILURE_LIMIT', DEFAULT_AUTH_FAILURE_LIMIT, 'off'),
      redisUrl: redisUrl(env),
      redisKeyPrefix: redisKeyPrefix(env),
    },
    inbound: inboundSettings(env),
    authCache: {
      ttlMs: integer(env, 'AUTH_CACHE_TTL_MS', 10_000, 0, 60_000),
      maxKeys: integer(env, 'AUTH_CACHE_MAX_KEYS', 10_000, 0, 1_000_000),
      maxUnknownKeys: integer(env, 'AUTH_CACHE_MAX_UNKNOWN_KEYS', 10_000, 0, 1_000_000),
      maxSessions: integer(env, 'AUTH_CACHE_MAX_SESSIONS', 10_000, 0, 1_000_000),
    },
    webhooks: {
      allowPrivate: onOff(env, 'WEBHOOK_ALLOW_PRIVATE', false),
      timeoutMs: integer(env, 'WEBHOOK_TIMEOUT_MS', 10_000, 100, 60_000),
    },
    keyActivity: {
      flushIntervalMs: integer(env, 'KEY_ACTIVITY_FLUSH_MS', 1000, 10, 60_000),
      bufferSize: integer(env, 'KEY_ACTIVITY_BUFFER', 20_000, 100, 1_000_000),
    },
    metrics: metricsSettings(env, port),
  };
}
