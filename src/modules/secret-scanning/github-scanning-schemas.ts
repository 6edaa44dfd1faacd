import { Type, type Static } from 'typebox';
import type { DocumentedBody } from '../../http/openapi.js';

/** Most matches GitHub may send in one request; a longer batch answers 413 (GitHub sends far fewer). */
export const MAX_ALERTS_PER_BATCH = 1000;
/** The largest body read: 1000 matches with long URLs fit, a flood does not. */
export const MAX_BATCH_BYTES = 1024 * 1024;

/**
 * One match as GitHub sends it. Fields GitHub may add later are accepted and ignored: refusing them
 * would drop a real leak report on the floor.
 */
export const ScanningAlert = Type.Object(
  {
    token: Type.String({ minLength: 1, maxLength: 1024, description: 'The string that matched our pattern.' }),
    type: Type.String({ minLength: 1, maxLength: 200, description: 'The secret type GitHub matched (the name agreed with GitHub).' }),
    url: Type.String({ maxLength: 4096, description: 'Where the token was found (a commit, issue, gist, npm package…).' }),
    source: Type.String({ maxLength: 200, description: 'What kind of place that is (`content`, `commit`, `issue_comment`, `npm`, …).' }),
  },
  { title: 'SecretScanningAlert', additionalProperties: true },
);
export type ScanningAlert = Static<typeof ScanningAlert>;

export const ScanningBatch = Type.Array(ScanningAlert, { minItems: 1, maxItems: MAX_ALERTS_PER_BATCH });

export const ScanningBatchBody: DocumentedBody = {
  description:
    'GitHub secret scanning partner program: a JSON array of matches, signed by GitHub (headers `Github-Public-Key-Identifier` and ' +
    '`Github-Public-Key-Signature`, a base64 ECDSA P-256 SHA-256 signature of the raw body). An unsigned or badly signed request answers 401 ' +
    'and revokes nothing.',
  required: true,
  content: { 'application/json': { schema: { type: 'array', maxItems: MAX_ALERTS_PER_BATCH, items: ScanningAlert as unknown as Record<string, unknown> } } },
};

/** GitHub's feedback format: one entry per match, in the order received. */
export const ScanningVerdict = Type.Object(
  {
    token_hash: Type.String({ description: 'SHA-256 of the token, hex: the token itself is never sent back.' }),
    token_type: Type.String({ description: 'The `type` GitHub sent.' }),
    label: Type.Union([Type.Literal('true_positive'), Type.Literal('false_positive')], {
      description: '`true_positive`: a key of this server (now revoked, or revoked before); `false_positive`: no key has this secret.',
    }),
  },
  { title: 'SecretScanningVerdict' },
);
export type ScanningVerdict = Static<typeof ScanningVerdict>;
