import { apps, dags } from './commands/apps.js';
import { clusters } from './commands/clusters.js';
import { events } from './commands/events.js';
import { jobs, logs } from './commands/jobs.js';
import { keys } from './commands/keys.js';
import { login, logout, whoami } from './commands/session.js';
import { EXIT, renderError } from './errors.js';
import type { Io } from './io.js';

export const CLIENT_USAGE = `Client commands (talk to an API; credentials from login, SKALEDATA_API_KEY/SKALEDATA_API_URL, or --api-key/--api-url):
  skaledata login [--api-url URL] [--api-key KEY | --token TOKEN | --with-key-stdin | --with-token-stdin]
                                        check a credential (GET /me) and store it (mode 0600)
  skaledata logout                      remove the stored credential
  skaledata whoami                      who the credential is
  skaledata keys create --name N [--preset ci-deploy|monitoring|cluster-automation|dag-sync-bot | --scope S ...] [--expires-at ISO]
                        [--allow-ip CIDR ...] [--cluster ID ...] [--app ID ...] [--scope-expires SCOPE=ISO ...] [--rate-limit N/S] [--canary]
                                        create an API key (user session); prints the secret once (--canary: a tripwire key)
  skaledata keys update <id> [--name N] [--scope S ... (narrower only)] [--allow-ip CIDR ... | --any-ip]
                        [--cluster ID ... --app ID ... | --whole-account] [--scope-expires SCOPE=ISO ... | --no-scope-expiry]
                        [--rate-limit N/S | --default-rate-limit]
  skaledata keys list | keys revoke <id> | keys roll <id> [--grace SECONDS] [--retire-old-on-first-use]
  skaledata clusters list [--status S]
  skaledata clusters create --name N --cloud <id|name> [--region R] [--kubernetes-version V] [--label k=v ...] [--auto-upgrade] [--wait] [--timeout SECONDS]
  skaledata apps deploy <app id|name> --image IMAGE [--wait] [--timeout SECONDS]
  skaledata dags push <app id|name> <folder|bundle.zip|bundle.tar.gz> [--wait] [--timeout SECONDS]
  skaledata jobs wait <job id> [--timeout SECONDS]
  skaledata logs <cluster id|name> <pod> [--follow] [--tail N]
  skaledata events [--type T] [--key <key id>] [--since ISO] [--limit N]
                                        the account's audit trail, newest first (a full key or a user session)
Every client command takes --json (machine-readable stdout). Exit codes: 0 success, 1 refused by the API,
2 usage error, 3 API unreachable, 4 not logged in or credential refused, 5 the work failed or was canceled,
6 --wait timed out, 7 --wait impossible with this key (the work goes on).`;

type Command = (io: Io, args: string[]) => Promise<void> | void;

const COMMANDS: Record<string, Command> = { login, logout, whoami, keys, clusters, apps, dags, jobs, logs, events };

export const isClientCommand = (name: string): boolean => Object.hasOwn(COMMANDS, name);

/** Runs one client command; returns the exit code (failures are printed, never thrown). */
export async function runClientCommand(name: string, args: string[], io: Io): Promise<number> {
  const command = COMMANDS[name];
  const json = args.includes('--json');
  try {
    if (!command) throw new Error(`unknown command "${name}"`);
    await command(io, args);
    return EXIT.ok;
  } catch (error) {
    const rendered = renderError(error);
    for (const line of rendered.lines) io.stderr.write(`${line}\n`);
    if (json) io.stdout.write(`${JSON.stringify({ error: rendered.json }, null, 2)}\n`);
    return rendered.exitCode;
  }
}
