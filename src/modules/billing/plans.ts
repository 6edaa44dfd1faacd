/**
 * The plan catalogue: fixed, in code, the one place plans are defined. Prices are in US cents per
 * month; included hours are what the price covers before usage would be charged on top (the local
 * provider charges nothing either way, see local-payment-provider.ts).
 */
export const PLAN_IDS = ['free', 'team', 'business'] as const;
export type PlanId = (typeof PLAN_IDS)[number];

export interface Plan {
  id: PlanId;
  name: string;
  monthly_price_cents: number;
  limits: {
    max_clusters: number;
    included_cluster_hours: number;
    included_node_hours: number;
  };
}

export const PLANS: Readonly<Record<PlanId, Plan>> = {
  free: {
    id: 'free',
    name: 'Free',
    monthly_price_cents: 0,
    limits: { max_clusters: 1, included_cluster_hours: 750, included_node_hours: 1_500 },
  },
  team: {
    id: 'team',
    name: 'Team',
    monthly_price_cents: 49_900,
    limits: { max_clusters: 5, included_cluster_hours: 3_750, included_node_hours: 15_000 },
  },
  business: {
    id: 'business',
    name: 'Business',
    monthly_price_cents: 199_900,
    limits: { max_clusters: 25, included_cluster_hours: 18_750, included_node_hours: 75_000 },
  },
};

export const DEFAULT_PLAN: PlanId = 'free';

/** The smallest plan with a higher cluster limit than `plan`, or null for the largest. */
export function nextPlanFor(plan: Plan): Plan | null {
  return PLAN_IDS.map((id) => PLANS[id]).find((other) => other.limits.max_clusters > plan.limits.max_clusters) ?? null;
}

export function isPlanId(value: string): value is PlanId {
  return (PLAN_IDS as readonly string[]).includes(value);
}

/** A stored plan id the catalogue no longer has is a bug, not a user error: fail loudly. */
export function planOf(id: string): Plan {
  if (!isPlanId(id)) throw new Error(`Billing account has unknown plan "${id}"`);
  return PLANS[id];
}
