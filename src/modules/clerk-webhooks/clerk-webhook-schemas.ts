import { Type, type Static } from 'typebox';
import type { DocumentedBody } from '../../http/openapi.js';

/** The largest Clerk event read: user and organisation payloads are a few KiB. */
export const MAX_CLERK_EVENT_BYTES = 256 * 1024;

// The prefixes the session verifier insists on (auth/principal.ts): the same ids name the same accounts.
const UserId = Type.String({ pattern: '^user_\\S+$', maxLength: 200, description: 'A Clerk user id.' });
const OrgId = Type.String({ pattern: '^org_\\S+$', maxLength: 200, description: 'A Clerk organisation id.' });

/** Any Clerk event: its type decides what else is read. Clerk's other fields are accepted and ignored. */
export const ClerkEvent = Type.Object(
  { type: Type.String({ minLength: 1, maxLength: 200 }), data: Type.Object({}, { additionalProperties: true }) },
  { title: 'ClerkEvent', additionalProperties: true },
);
export type ClerkEvent = Static<typeof ClerkEvent>;

/** `organizationMembership.deleted`: who left which organisation. */
export const MembershipDeleted = Type.Object(
  {
    organization: Type.Object({ id: OrgId }, { additionalProperties: true }),
    public_user_data: Type.Object({ user_id: UserId }, { additionalProperties: true }),
  },
  { additionalProperties: true },
);
export type MembershipDeleted = Static<typeof MembershipDeleted>;

/** `user.deleted` and `organization.deleted`: what was deleted. */
export const DeletedUser = Type.Object({ id: UserId }, { additionalProperties: true });
export const DeletedOrganization = Type.Object({ id: OrgId }, { additionalProperties: true });

export const ClerkEventBody: DocumentedBody = {
  description:
    'A Clerk webhook event, delivered by Svix and signed with `CLERK_WEBHOOK_SECRET` (headers `svix-id`, `svix-timestamp`, `svix-signature`). ' +
    'Handled: `organizationMembership.deleted`, `user.deleted`, `organization.deleted`; every other type is acknowledged and ignored.',
  required: true,
  content: { 'application/json': { schema: ClerkEvent as unknown as Record<string, unknown> } },
};

export const ClerkEventOutcome = Type.Object(
  {
    handled: Type.Boolean({ description: 'False for event types this endpoint ignores.' }),
    revoked_keys: Type.Integer({ description: 'How many live keys this event revoked (reason `owner_removed`).' }),
  },
  { title: 'ClerkEventOutcome' },
);
export type ClerkEventOutcome = Static<typeof ClerkEventOutcome>;
