/** Billing: the account's plan and usage, plan changes and the payment portal (local provider). */
export { registerBillingRoutes as register } from './billing-routes.js';
