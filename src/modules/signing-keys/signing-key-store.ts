import { exportJWK, generateKeyPair, importJWK, type JWK } from 'jose';
import { libtrustKeyId } from '../registry/libtrust.js';
import { selfSignedCertificate } from '../registry/registry-certificate.js';
import type { Db } from '../../db/database.js';
import type { Clock } from '../../lib/clock.js';
import { newId } from '../../lib/ids.js';
import { open, seal } from '../../lib/secret-box.js';
import { createSigningKeyRepo, type SigningKeyRow } from './signing-key-repo.js';

/**
 * The key pairs that sign the tokens this API issues (registry, data-plane, dev credentials). They
 * live in the database with the private half sealed by ENCRYPTION_KEY, so every instance that shares
 * the database and the key signs and verifies alike, and a database leak alone reveals no private key.
 */
export const SIGNING_ALGORITHM = 'ES256';

/** The longest lifetime of any token we sign; TokenIssuer refuses anything longer. */
export const MAX_TOKEN_TTL_SECONDS = 15 * 60;

/** Instances re-read the keys this often, so a rotation reaches all of them within it. */
export const KEY_REFRESH_MS = 60_000;

/**
 * A retired key stays published while tokens it signed may still be valid: the longest lifetime,
 * plus the refresh interval during which other instances may still sign with it after a rotation.
 */
export const RETIRED_KEY_PUBLISHED_MS = MAX_TOKEN_TTL_SECONDS * 1000 + KEY_REFRESH_MS;

/** Unknown kids trigger a re-read at most this often, so garbage kids cannot hammer the database. */
const UNKNOWN_KID_REFRESH_MS = 5_000;

/** A P-256 public key as published in the JWKS. */
export interface PublicJwk {
  kid: string;
  kty: string;
  alg: typeof SIGNING_ALGORITHM;
  use: 'sig';
  crv: string;
  x: string;
  y: string;
}

type SigningKeyObject = Awaited<ReturnType<typeof importJWK>>;

interface CachedKey {
  kid: string;
  /** The same key's id as Docker Distribution computes it (registry tokens carry this one). */
  libtrustKid: string;
  publicJwk: PublicJwk;
  publicKey: SigningKeyObject;
  retiredAt: string | null;
  row: SigningKeyRow;
}

/** How long a signing key's certificate says it is valid; the key is retired long before (rotation). */
const CERTIFICATE_YEARS = 10;
/** Certificates start a little before the key was made, for registries whose clocks are behind. */
const CERTIFICATE_BACKDATE_MS = 60 * 60 * 1000;

interface KeyCache {
  loadedAt: number;
  /** Newest first (by `created_at`, which is when a key starts signing). */
  keys: CachedKey[];
}

/**
 * Whether a key signs at `now`: from its `created_at` (in the future for a staged rotation: published
 * at once, signing later) until its `retired_at` (in the future for the key a staged rotation replaces).
 */
function signsAt(row: SigningKeyRow, now: number): boolean {
  return Date.parse(row.created_at) <= now && (row.retired_at === null || Date.parse(row.retired_at) > now);
}

const sealedFor = (kid: string) => `signing-key:${kid}`;

async function newKeyRow(clock: Clock, encryptionKey: Buffer, activatesAt: Date = clock.now()): Promise<SigningKeyRow> {
  const now = clock.now();
  const kid = newId('signingKey', now.getTime());
  const { publicKey, privateKey } = await generateKeyPair(SIGNING_ALGORITHM, { extractable: true });
  const privateJwk = await exportJWK(privateKey);
  const { kty, crv, x, y } = await exportJWK(publicKey);
  const publicJwk: Partial<PublicJwk> = { kty, crv, x, y, kid, alg: SIGNING_ALGORITHM, use: 'sig' };
  return {
    kid,
    algorithm: SIGNING_ALGORITHM,
    private_key_encrypted: seal(encryptionKey, JSON.stringify(privateJwk), sealedFor(kid)),
    public_jwk: JSON.stringify(publicJwk),
    created_at: activatesAt.toISOString(),
    retired_at: null,
  };
}

/** Newest first: the active key every instance signs with is the first live row in this order. */
function readPublishedRows(repo: ReturnType<typeof createSigningKeyRepo>, now: Date): Promise<SigningKeyRow[]> {
  return repo.published(new Date(now.getTime() - RETIRED_KEY_PUBLISHED_MS).toISOString());
}

/** The longest a staged rotation may wait before the new key signs. */
export const MAX_ACTIVATION_DELAY_SECONDS = 7 * 24 * 3600;

/**
 * Makes a new key and retires every other live one, in one transaction (key generation happens before
 * it). This is what `skaledata rotate-signing-key` runs. With `activateInSeconds`, the rotation is staged:
 * the new key is published at once (JWKS, registry certificates) and starts signing only then, when the
 * old ones retire; so a registry whose certificate bundle is refreshed in the meantime never meets a
 * token signed by a key it does not know.
 */
export async function rotateSigningKey(
  db: Db,
  clock: Clock,
  encryptionKey: Buffer,
  activateInSeconds = 0,
): Promise<{ kid: string; retired: string[]; activatesAt: Date }> {
  if (!Number.isInteger(activateInSeconds) || activateInSeconds < 0 || activateInSeconds > MAX_ACTIVATION_DELAY_SECONDS) {
    throw new Error(`the activation delay must be whole seconds from 0 to ${MAX_ACTIVATION_DELAY_SECONDS}`);
  }
  const activatesAt = new Date(clock.now().getTime() + activateInSeconds * 1000);
  const row = await newKeyRow(clock, encryptionKey, activatesAt);
  const retired = await createSigningKeyRepo(db).rotateTo(row);
  return { kid: row.kid, retired, activatesAt };
}

export interface ActiveSigningKey {
  kid: string;
  libtrustKid: string;
  privateKey: SigningKeyObject;
}

export interface SigningKeyStore {
  /** The key to sign with now (created on first use). */
  activeKey(): Promise<ActiveSigningKey>;
  /** A published key by kid, re-reading the table once when the kid is not known yet. */
  publicKey(kid: string): Promise<SigningKeyObject | null>;
  /**
   * What GET /.well-known/jwks.json publishes: the active key(s) and recently retired ones, each once
   * under its own kid and once under its libtrust id (the kid registry tokens carry).
   */
  publishedKeys(): Promise<PublicJwk[]>;
  /** Self-signed certificates (PEM) of the same keys, for a registry's `rootcertbundle`. */
  publishedCertificates(): Promise<string[]>;
}

export function createSigningKeyStore(deps: { db: Db; clock: Clock; encryptionKey: Buffer }): SigningKeyStore {
  const { clock, encryptionKey } = deps;
  const repo = createSigningKeyRepo(deps.db);
  let cache: KeyCache | null = null;
  let loading: Promise<KeyCache> | null = null;
  let activePrivate: ActiveSigningKey | null = null;
  // A certificate per kid, made once per instance (ECDSA signatures differ each time; the key does not).
  const certificates = new Map<string, string>();

  async function load(): Promise<KeyCache> {
    let rows = await readPublishedRows(repo, clock.now());
    if (!rows.some((row) => row.retired_at === null)) {
      // Two instances may both get here at once: both insert, both then sign with the newest row,
      // and the other stays published (and is retired by the next rotation).
      await repo.insert(await newKeyRow(clock, encryptionKey));
      rows = await readPublishedRows(repo, clock.now());
    }
    const keys = await Promise.all(
      rows.map(async (row) => {
        const publicJwk = JSON.parse(row.public_jwk) as PublicJwk;
        const publicKey = await importJWK(publicJwk, SIGNING_ALGORITHM);
        return { kid: row.kid, libtrustKid: libtrustKeyId({ ...publicJwk }), publicJwk, publicKey, retiredAt: row.retired_at, row };
      }),
    );
    return { loadedAt: clock.now().getTime(), keys };
  }

  async function refresh(maxAgeMs: number): Promise<KeyCache> {
    if (cache && clock.now().getTime() - cache.loadedAt < maxAgeMs) return cache;
    // One read at a time per instance, however many requests arrive together.
    loading ??= load().finally(() => {
      loading = null;
    });
    cache = await loading;
    return cache;
  }

  function stillPublished(key: CachedKey, now: number): boolean {
    return key.retiredAt === null || Date.parse(key.retiredAt) + RETIRED_KEY_PUBLISHED_MS > now;
  }

  const privateJwkOf = (row: SigningKeyRow) => JSON.parse(open(encryptionKey, row.private_key_encrypted, sealedFor(row.kid))) as JWK;

  async function published(): Promise<CachedKey[]> {
    const state = await refresh(KEY_REFRESH_MS);
    const now = clock.now().getTime();
    return state.keys.filter((key) => stillPublished(key, now));
  }

  function certificateOf(key: CachedKey): string {
    let pem = certificates.get(key.kid);
    if (pem === undefined) {
      // A staged key is published before it signs: its certificate is valid from its publication.
      const createdAt = Math.min(Date.parse(key.row.created_at), clock.now().getTime());
      const notAfter = new Date(Date.parse(key.row.created_at));
      notAfter.setUTCFullYear(notAfter.getUTCFullYear() + CERTIFICATE_YEARS);
      pem = selfSignedCertificate({
        kid: key.kid,
        publicJwk: { ...key.publicJwk },
        privateJwk: privateJwkOf(key.row),
        notBefore: new Date(createdAt - CERTIFICATE_BACKDATE_MS),
        notAfter,
      });
      certificates.set(key.kid, pem);
    }
    return pem;
  }

  return {
    async activeKey() {
      const { keys } = await refresh(KEY_REFRESH_MS);
      // Decided at each call from the cached rows, so a staged key starts signing on time.
      const now = clock.now().getTime();
      // Failing that (clocks apart across instances), the newest key that has started, never a staged one early.
      const active = keys.find((key) => signsAt(key.row, now)) ?? keys.find((key) => Date.parse(key.row.created_at) <= now) ?? keys.find((key) => key.row.retired_at === null);
      if (!active) throw new Error('no signing key is live');
      if (activePrivate?.kid !== active.kid) {
        activePrivate = { kid: active.kid, libtrustKid: active.libtrustKid, privateKey: await importJWK(privateJwkOf(active.row), SIGNING_ALGORITHM) };
      }
      return activePrivate;
    },

    async publicKey(kid) {
      let state = await refresh(KEY_REFRESH_MS);
      const named = (candidate: CachedKey) => candidate.kid === kid || candidate.libtrustKid === kid;
      if (!state.keys.some(named)) state = await refresh(UNKNOWN_KID_REFRESH_MS);
      const key = state.keys.find(named);
      return key && stillPublished(key, clock.now().getTime()) ? key.publicKey : null;
    },

    async publishedKeys() {
      const keys = await published();
      return [...keys.map((key) => key.publicJwk), ...keys.map((key) => ({ ...key.publicJwk, kid: key.libtrustKid }))];
    },

    async publishedCertificates() {
      return (await published()).map(certificateOf);
    },
  };
}
