import { randomFillSync } from 'node:crypto';

/** Base62 in ASCII order, so fixed-width base62 strings sort like the numbers they encode. */
export const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';

export const ID_PREFIXES = {
  apiKey: 'key',
  cloud: 'cld',
  cluster: 'cls',
  nodePool: 'np',
  job: 'job',
  app: 'app',
  deploy: 'dep',
  dagBundle: 'dag',
  devCredential: 'dcr',
  terminalSession: 'trm',
  usageRecord: 'use',
  signingKey: 'sk',
  request: 'req',
  keyActivity: 'act',
  event: 'evt',
  webhook: 'whk',
  webhookDelivery: 'msg',
} as const;

export type IdKind = keyof typeof ID_PREFIXES;

const TIME_WIDTH = 9; // 62^9 ms is ~430,000 years
const RANDOM_WIDTH = 16;

/**
 * CSPRNG bytes drawn from a pool refilled 4 KB at a time: one `randomBytes` call per request id cost more
 * than the rest of an authenticated request's bookkeeping (Node pools randomUUID the same way). Bytes are
 * zeroed as they are handed out, so a secret made from them does not linger in the pool.
 */
const POOL_SIZE = 4096;
const pool = Buffer.alloc(POOL_SIZE);
let poolOffset = POOL_SIZE;

function nextRandomByte(): number {
  if (poolOffset === POOL_SIZE) {
    randomFillSync(pool);
    poolOffset = 0;
  }
  const byte = pool[poolOffset] as number;
  pool[poolOffset++] = 0;
  return byte;
}

/** Uniform base62 characters from the CSPRNG, by rejection sampling (no modulo bias). */
export function randomBase62(length: number): string {
  let out = '';
  while (out.length < length) {
    const byte = nextRandomByte();
    // 248 = 62 * 4: bytes at or above it would favour the first characters.
    if (byte < 248) out += BASE62[byte % 62];
  }
  return out;
}

export function toBase62(value: number, width: number): string {
  let out = '';
  let rest = Math.floor(value);
  while (rest > 0) {
    out = BASE62[rest % 62] + out;
    rest = Math.floor(rest / 62);
  }
  return out.padStart(width, '0');
}

/** The base62 string one greater than `value`, same width; null when it is all 'z' (no room left). */
function incrementBase62(value: string): string | null {
  const digits = [...value];
  for (let i = digits.length - 1; i >= 0; i--) {
    const next = BASE62.indexOf(digits[i] as string) + 1;
    if (next < BASE62.length) {
      digits[i] = BASE62[next] as string;
      return digits.join('');
    }
    digits[i] = '0';
  }
  return null;
}

let lastTime = '';
let lastRandom = '';

/**
 * Prefixed, time-ordered ids (`cls_` + 9 time characters + 16 random ones): sorting by id sorts by
 * creation time, which is what cursor pagination and "newest first" rely on. Within one millisecond of
 * this process the random part of the previous id is incremented instead of drawn again (as ULIDs do),
 * so ids made in the same millisecond still sort in the order they were made.
 */
export function newId(kind: IdKind, nowMs: number = Date.now()): string {
  const time = toBase62(nowMs, TIME_WIDTH);
  const random = (time === lastTime ? incrementBase62(lastRandom) : null) ?? randomBase62(RANDOM_WIDTH);
  lastTime = time;
  lastRandom = random;
  return `${ID_PREFIXES[kind]}_${time}${random}`;
}

const ID_PATTERN = /^[a-z]{2,3}_[0-9A-Za-z]{25}$/;

/** A string that could be one of our ids (any kind); anything else cannot name a stored row. */
export function isWellFormedId(value: string): boolean {
  return ID_PATTERN.test(value);
}
