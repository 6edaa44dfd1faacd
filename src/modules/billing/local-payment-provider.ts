import type { Clock } from '../../lib/clock.js';
import { randomBase62 } from '../../lib/ids.js';
import type { PaymentProvider } from './payment-provider.js';

export const LOCAL_PORTAL_PATH = '/billing/local-portal';
export const LOCAL_PORTAL_SESSION_LENGTH = 32;
const PORTAL_SESSION_TTL_MS = 15 * 60 * 1000;

/**
 * The `local` payment provider, the only one built in: it takes NO payments and talks to no
 * processor. Plan changes are simply accepted (the billing service records them in the database),
 * customers are local ids, and the "portal" is a page on this API that says exactly that. It lets
 * the product run end to end on one machine; a real processor implements PaymentProvider instead.
 */
export function createLocalPaymentProvider(deps: { clock: Clock; publicUrl: string }): PaymentProvider {
  const base = deps.publicUrl.replace(/\/+$/, '');
  return {
    name: 'local',
    async createCustomer() {
      return { customerId: `local_cus_${randomBase62(20)}` };
    },
    async changeSubscription() {
      // Nothing to charge: the new plan is active at once.
      return { status: 'active' };
    },
    async createPortalSession() {
      const session = randomBase62(LOCAL_PORTAL_SESSION_LENGTH);
      return {
        url: `${base}${LOCAL_PORTAL_PATH}?session=${session}`,
        expiresAt: new Date(deps.clock.now().getTime() + PORTAL_SESSION_TTL_MS),
      };
    },
  };
}
