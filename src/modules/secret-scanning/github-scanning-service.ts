import { createHash, verify } from 'node:crypto';
import { isWellFormedApiKey } from '../../auth/api-key-format.js';
import type { Clock } from '../../lib/clock.js';
import type { ApiKeyStore } from '../api-keys/api-key-store.js';
import { systemActor } from '../events/actor.js';
import type { GithubScanningKey } from '../../auth/github-scanning-keys.js';
import type { ScanningAlert, ScanningVerdict } from './github-scanning-schemas.js';

/** Base64 as GitHub sends its DER signatures (a P-256 DER signature is at most 72 bytes). */
const SIGNATURE = /^[A-Za-z0-9+/]{1,200}={0,2}$/;

/**
 * True when `signature` (base64 DER ECDSA, SHA-256) is a signature of exactly `body` by the key GitHub
 * names in `identifier`. Anything missing, unknown or malformed is simply false: the caller answers 401.
 */
export function verifyGithubSignature(keys: readonly GithubScanningKey[], identifier: string | undefined, signature: string | undefined, body: Buffer): boolean {
  if (identifier === undefined || signature === undefined || !SIGNATURE.test(signature)) return false;
  const known = keys.find((candidate) => candidate.identifier === identifier);
  if (known === undefined) return false;
  try {
    return verify('sha256', body, { key: known.key, dsaEncoding: 'der' }, Buffer.from(signature, 'base64'));
  } catch {
    // A signature that is not DER at all.
    return false;
  }
}

const sha256Hex = (text: string) => createHash('sha256').update(text).digest('hex');

export function createGithubScanningService(deps: { keys: Pick<ApiKeyStore, 'revokeLeaked'>; clock: Clock }) {
  const by = systemActor('github_secret_scanning');
  return {
    /**
     * Revokes every key a match names (its current or rolled-away secret), at once, and answers GitHub's
     * feedback. Only strings of our key format with a valid checksum are looked up: the rest cannot be
     * keys and cost no database read. The same token found at the same URL twice in one batch is one finding.
     */
    async report(alerts: readonly ScanningAlert[]): Promise<ScanningVerdict[]> {
      const at = deps.clock.now().toISOString();
      const labels = new Map<string, ScanningVerdict['label']>();
      const verdicts: ScanningVerdict[] = [];
      for (const alert of alerts) {
        const finding = `${alert.token}\u0000${alert.url}`;
        let label = labels.get(finding);
        if (label === undefined) {
          const key = isWellFormedApiKey(alert.token)
            ? await deps.keys.revokeLeaked(alert.token, at, { by, data: { url: alert.url, source: alert.source, token_type: alert.type } })
            : null;
          label = key === null ? 'false_positive' : 'true_positive';
          labels.set(finding, label);
        }
        verdicts.push({ token_hash: sha256Hex(alert.token), token_type: alert.type, label });
      }
      return verdicts;
    },
  };
}
