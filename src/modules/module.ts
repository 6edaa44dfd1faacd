import type { DatabaseHandle } from '../db/database.js';
import type { InfraDriver } from '../infra/driver.js';
import type { Clock } from '../lib/clock.js';
import type { EventLog } from './events/event-log.js';

/**
 * What most feature modules are built from. A module (src/modules/<name>/index.ts) exports one
 * `register(app, deps)` whose `deps` names exactly what it takes (these, plus what only it needs);
 * buildApp hands every module the same context, and the types check that the context has it.
 */
export interface ModuleDeps {
  database: Pick<DatabaseHandle, 'db'>;
  clock: Clock;
  driver: InfraDriver;
  /** The audit trail: a change records its event through it, in the change's own transaction. */
  events: EventLog;
}
