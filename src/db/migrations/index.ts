import type { Migration } from 'kysely';
import * as initial from './0001-initial.js';
import * as appsAndIntegrations from './0002-apps-and-integrations.js';
import * as settings from './0003-settings.js';
import * as keyRestrictions from './0004-key-restrictions.js';
import * as keyResources from './0005-key-resources.js';
import * as keyActivity from './0006-key-activity.js';
import * as keyRateLimit from './0007-key-rate-limit.js';
import * as events from './0008-events.js';
import * as webhooks from './0009-webhooks.js';
import * as inboundWebhooks from './0010-inbound-webhooks.js';
import * as rowNotifications from './0011-row-notifications.js';

/**
 * Every migration, by name, in the order they run (Kysely sorts by name). A new migration is a file in
 * this folder and its line here; applied ones are never edited or renamed.
 */
export const MIGRATIONS: Readonly<Record<string, Migration>> = {
  '0001-initial': initial,
  '0002-apps-and-integrations': appsAndIntegrations,
  '0003-settings': settings,
  '0004-key-restrictions': keyRestrictions,
  '0005-key-resources': keyResources,
  '0006-key-activity': keyActivity,
  '0007-key-rate-limit': keyRateLimit,
  '0008-events': events,
  '0009-webhooks': webhooks,
  '0010-inbound-webhooks': inboundWebhooks,
  '0011-row-notifications': rowNotifications,
};
