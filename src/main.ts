import { existsSync } from 'node:fs';
import path from 'node:path';
import { buildApp } from './app.js';
import { ConfigError, loadConfig, type Config } from './config.js';
import { createRuntimeDeps } from './deps.js';
import { gracefulShutdown } from './http/graceful-shutdown.js';

function banner(config: Config, address: string, devIssuer: boolean, driver: string, db: string): string {
  const lines = [
    `SkaleData control-plane API listening on ${address}`,
    `  database: ${db === 'sqlite' && config.database.kind === 'sqlite' ? `SQLite ${config.database.file}` : 'PostgreSQL'}`,
    `  infrastructure driver: ${driver} (no real clouds are touched)`,
  ];
  lines.push(`  dashboard: open ${address}/ in a browser`);
  if (devIssuer) {
    lines.push(
      '  sign-in: local development issuer (no CLERK_JWT_KEY set): the dashboard signs you in by email',
      '  get a session token:  npx skaledata dev-token --email you@example.com',
      `  then:                 curl -H "Authorization: Bearer <token>" ${address}/me`,
    );
  } else {
    lines.push('  sign-in: Clerk session tokens, verified with CLERK_JWT_KEY');
  }
  lines.push(`  API reference: ${address}/docs`);
  return lines.join('\n');
}

/**
 * Before DATA_DIR also placed the default database (CONTRACT §6), it stayed in ./data whatever DATA_DIR
 * said. An instance started that way keeps its rows there: say so, rather than look as if they were gone.
 */
export function earlierDefaultDatabaseWarning(
  config: Pick<Config, 'database'>,
  env: Record<string, string | undefined>,
  exists: (file: string) => boolean = existsSync,
): string | null {
  if (env.DATABASE_URL?.trim() || config.database.kind !== 'sqlite') return null;
  const earlier = path.resolve('./data/skaledata.db');
  if (earlier === config.database.file || !exists(earlier) || exists(config.database.file)) return null;
  return (
    `warning: starting a new database at ${config.database.file} (DATA_DIR), but ${earlier} exists: earlier versions kept the ` +
    `default database there. To keep using it, set DATABASE_URL=sqlite:${earlier} or move it into DATA_DIR.`
  );
}

/** Reads configuration, builds the app and listens; SIGTERM/SIGINT drain and close it (http/graceful-shutdown.ts). */
export async function serve(): Promise<void> {
  let config: Config;
  try {
    config = loadConfig();
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
  const warning = earlierDefaultDatabaseWarning(config, process.env);
  if (warning !== null) console.error(warning);
  let deps: Awaited<ReturnType<typeof createRuntimeDeps>>;
  try {
    deps = await createRuntimeDeps(config);
  } catch (error) {
    if (error instanceof ConfigError) {
      console.error(error.message);
      process.exit(2);
    }
    throw error;
  }
  const app = await buildApp(deps);
  const shutdown = gracefulShutdown({
    app,
    closeDatabase: () => deps.database.close(),
    drainMs: config.shutdownDrainMs,
    exit: (code) => process.exit(code),
  });
  process.on('SIGTERM', () => shutdown('SIGTERM'));
  process.on('SIGINT', () => shutdown('SIGINT'));
  const address = await app.listen({ host: config.host, port: config.port });
  console.log(banner(config, address, deps.devIssuer !== null, deps.driver.name, deps.database.kind));
  // Metrics on a port of their own (METRICS_PORT), or on the API's behind METRICS_TOKEN.
  const metricsAddress = (await app.metricsListener?.listen()) ?? (config.metrics === null ? null : address);
  if (metricsAddress !== null) console.log(`  metrics: ${metricsAddress}/metrics${config.metrics?.token ? ' (Authorization: Bearer $METRICS_TOKEN)' : ''}`);
}
