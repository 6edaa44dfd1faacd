import { createPublicKey, type KeyObject } from 'node:crypto';

/** One of GitHub's secret-scanning signing keys, by the identifier its requests name. */
export interface GithubScanningKey {
  identifier: string;
  key: KeyObject;
}

/**
 * GITHUB_SECRET_SCANNING_KEYS: the JSON GitHub publishes at
 * https://api.github.com/meta/public_keys/secret_scanning, pasted as it is:
 * `{"public_keys":[{"key_identifier":"…","key":"-----BEGIN PUBLIC KEY-----…","is_current":true}]}`.
 * Every key listed is trusted, current or not: GitHub may still sign with the previous one while it
 * rotates. Read once at boot (no network at run time); throws a message naming what is wrong.
 */
export function parseGithubScanningKeys(raw: string): GithubScanningKey[] {
  let document: unknown;
  try {
    document = JSON.parse(raw);
  } catch {
    throw new Error('must be the JSON GitHub publishes at https://api.github.com/meta/public_keys/secret_scanning (it is not JSON)');
  }
  const list = typeof document === 'object' && document !== null ? (document as { public_keys?: unknown }).public_keys : undefined;
  if (!Array.isArray(list) || list.length === 0) throw new Error('must be an object with a non-empty "public_keys" list');
  return list.map((entry: unknown, index) => {
    const { key_identifier: identifier, key: pem } = (typeof entry === 'object' && entry !== null ? entry : {}) as { key_identifier?: unknown; key?: unknown };
    if (typeof identifier !== 'string' || identifier === '') throw new Error(`public_keys[${index}].key_identifier must be a non-empty string`);
    if (typeof pem !== 'string') throw new Error(`public_keys[${index}].key must be a PEM public key`);
    let key: KeyObject;
    try {
      key = createPublicKey(pem);
    } catch {
      throw new Error(`public_keys[${index}].key must be a PEM public key`);
    }
    // GitHub signs with ECDSA over P-256; any other key could never verify, so it is a paste error.
    if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
      throw new Error(`public_keys[${index}].key must be an ECDSA P-256 public key`);
    }
    return { identifier, key };
  });
}
