import type { PlanId } from './plans.js';

export type BillingStatus = 'active' | 'past_due' | 'canceled';

/**
 * What billing needs from whoever takes payments. Implementations may call the network, so the
 * service never calls them inside a database transaction; it records what they answer afterwards.
 */
export interface PaymentProvider {
  /** Shown to clients as `provider`, so they can tell a real processor from the local one. */
  readonly name: string;
  /** A customer record at the provider for one account; called once, on the first billing change. */
  createCustomer(input: { accountId: string; email: string | null }): Promise<{ customerId: string }>;
  /** Moves the customer's subscription to `plan`; answers the status the subscription is now in. */
  changeSubscription(input: { customerId: string; accountId: string; from: PlanId; to: PlanId }): Promise<{ status: BillingStatus }>;
  /** A short-lived link where the customer manages payment details. */
  createPortalSession(input: { customerId: string; accountId: string }): Promise<{ url: string; expiresAt: Date }>;
}
