import { Type } from 'typebox';
import { Timestamp } from '../../http/schemas.js';
import { LOCAL_PORTAL_SESSION_LENGTH } from './local-payment-provider.js';
import { PLAN_IDS } from './plans.js';

export const Billing = Type.Object({
  plan: Type.Enum([...PLAN_IDS]),
  status: Type.String({ enum: ['active', 'past_due', 'canceled'] }),
  monthly_price_cents: Type.Integer({ description: 'The plan price in US cents per month.' }),
  current_period: Type.Object({ start: Timestamp, end: Timestamp }, { description: 'The calendar month in UTC, end exclusive.' }),
  usage: Type.Object(
    {
      cluster_hours: Type.Number({ description: 'Hours clusters ran in the period (up to now), to 2 decimals.' }),
      node_hours: Type.Number({ description: 'Node-hours of node pools in the period (nodes × hours), to 2 decimals.' }),
    },
  ),
  limits: Type.Object({
    max_clusters: Type.Integer(),
    included_cluster_hours: Type.Integer(),
    included_node_hours: Type.Integer(),
  }),
  provider: Type.String({ description: '"local" means no payment processor: nothing is charged.' }),
}, { title: 'Billing' });

export const ChangeSubscriptionBody = Type.Object({ plan: Type.Enum([...PLAN_IDS]) }, { title: 'ChangeSubscriptionRequest', additionalProperties: false });

/** Nothing to send today; an empty object (or no body) is accepted, anything else is refused. */
export const PortalSessionBody = Type.Object({}, { title: 'PortalSessionRequest', additionalProperties: false });

export const PortalSession = Type.Object({
  url: Type.String({ description: 'Open it in a browser; it works once the user is there, not for an API client.' }),
  expires_at: Timestamp,
}, { title: 'PortalSession' });

export const LocalPortalQuery = Type.Object(
  { session: Type.String({ minLength: LOCAL_PORTAL_SESSION_LENGTH, maxLength: LOCAL_PORTAL_SESSION_LENGTH, pattern: '^[0-9A-Za-z]+$' }) },
  { additionalProperties: false },
);
