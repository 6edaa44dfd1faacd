import { accountOf } from '../../auth/principal.js';
import type { Db } from '../../db/database.js';
import { checkBody } from '../../http/raw-body.js';
import type { Clock } from '../../lib/clock.js';
import type { ApiKeyStore } from '../api-keys/api-key-store.js';
import { systemActor } from '../events/actor.js';
import type { EventData } from '../events/event-types.js';
import { createClerkDeliveryRepo } from './clerk-delivery-repo.js';
import { DeletedOrganization, DeletedUser, MembershipDeleted, type ClerkEvent, type ClerkEventOutcome } from './clerk-webhook-schemas.js';

/**
 * How long an accepted delivery id is kept. Svix refuses a timestamp more than 5 minutes off either
 * way, so a delivery can be replayed at most ~10 minutes after it first arrived; past that it is stale.
 */
const REMEMBER_DELIVERIES_MS = 15 * 60_000;

/** Whose keys an event takes away: a creator, an account, or a creator in one account. */
type Owner = { createdBy?: string; accountId?: string };

export function createClerkWebhookService(deps: { db: Db; keys: Pick<ApiKeyStore, 'liveKeysOf' | 'revoke'>; clock: Clock }) {
  const deliveries = createClerkDeliveryRepo(deps.db);
  const by = systemActor('clerk');

  /** The keys an event takes away, or null for an event type that takes none. */
  function ownerOf(event: ClerkEvent): Owner | null {
    switch (event.type) {
      case 'organizationMembership.deleted': {
        // A member who leaves (or is removed) loses the keys they made for the organisation, not their own.
        const data = checkBody<MembershipDeleted>(MembershipDeleted, event.data);
        const userId = data.public_user_data.user_id;
        return { createdBy: userId, accountId: accountOf(userId, data.organization.id) };
      }
      case 'user.deleted':
        // Every account: their personal one and each organisation they made keys in.
        return { createdBy: checkBody<{ id: string }>(DeletedUser, event.data).id };
      case 'organization.deleted':
        return { accountId: checkBody<{ id: string }>(DeletedOrganization, event.data).id };
      default:
        return null;
    }
  }

  return {
    /**
     * Handles a verified delivery once across all instances: a second delivery of `deliveryId` is refused
     * (false). Each key is revoked in its own transaction with its `api_key.owner_removed` event, announced
     * to every instance; if one fails, the delivery id is forgotten so Svix's retry finishes the job (the
     * keys already revoked are no longer live, so nothing happens twice).
     */
    async handle(deliveryId: string, event: ClerkEvent): Promise<ClerkEventOutcome | 'replayed'> {
      // Checked before the id is claimed: a malformed event is refused (400) and can be sent again fixed.
      const owner = ownerOf(event);
      const now = deps.clock.now();
      const claimed = await deliveries.claim(deliveryId, now.toISOString(), new Date(now.getTime() - REMEMBER_DELIVERIES_MS).toISOString());
      if (!claimed) return 'replayed';
      if (owner === null) return { handled: false, revoked_keys: 0 };
      try {
        const data: EventData = { clerk_event: event.type, clerk_delivery_id: deliveryId };
        if (owner.createdBy !== undefined) data.user_id = owner.createdBy;
        if (owner.accountId !== undefined && owner.accountId !== owner.createdBy) data.organization_id = owner.accountId;
        let revoked = 0;
        for (const key of await deps.keys.liveKeysOf(owner)) {
          if (await deps.keys.revoke(key.account_id, key.id, now.toISOString(), { by, reason: 'owner_removed', data })) revoked += 1;
        }
        return { handled: true, revoked_keys: revoked };
      } catch (error) {
        await deliveries.release(deliveryId).catch(() => undefined);
        throw error;
      }
    },
  };
}
