import { parseArgs } from 'node:util';
import { CLIENT_USAGE, isClientCommand, runClientCommand } from './cli/index.js';

// The server's modules (Fastify, Kysely, drivers) are loaded only by the commands that need them, so a
// client command (`skaledata apps deploy` in a CI job) starts in a fraction of the time.
const server = {
  devIssuer: () => import('./auth/dev-issuer.js'),
  config: () => import('./config.js'),
  deps: () => import('./deps.js'),
  main: () => import('./main.js'),
  rotate: () => import('./modules/signing-keys/rotate-command.js'),
};

const USAGE = `Usage:
  skaledata serve                       start the API (configuration from the environment)
  skaledata dev-token --email <e> [--user user_<id>] [--org org_<id>] [--ttl <seconds>]
                                        print a session token from the local development issuer
  skaledata rotate-signing-key [--activate-in <seconds>]
                                        make a new key for the tokens this API signs; the old one stays published until its tokens expire.
                                        With --activate-in, the new key is published at once and signs only after that delay
                                        (time to refresh registries' certificate bundles)
  skaledata help

${CLIENT_USAGE}`;

async function devToken(args: string[]): Promise<void> {
  const { values } = parseArgs({
    args,
    options: { email: { type: 'string' }, user: { type: 'string' }, org: { type: 'string' }, ttl: { type: 'string' } },
    strict: true,
  });
  const email = values.email;
  const [{ loadConfig }, { loadDevIssuer, devUserId, DEV_EMAIL_PATTERN, DEV_ORG_PATTERN }] = await Promise.all([server.config(), server.devIssuer()]);
  if (!email || !new RegExp(DEV_EMAIL_PATTERN).test(email)) throw new Error('--email is required (e.g. --email you@example.com)');
  const config = loadConfig();
  if (!config.clerk.devIssuer) {
    throw new Error('The local development issuer is off (CLERK_JWT_KEY is set, or PostgreSQL without DEV_ISSUER=on); sign in through Clerk instead.');
  }
  const userId = values.user ?? devUserId(email);
  if (!/^user_[A-Za-z0-9_-]{1,59}$/.test(userId)) {
    throw new Error('--user must look like user_<id> (letters, digits, _ or -; 64 characters at most), as Clerk user ids do');
  }
  if (values.org !== undefined && !new RegExp(DEV_ORG_PATTERN).test(values.org)) throw new Error('--org must look like org_<id>');
  const ttl = values.ttl === undefined ? 3600 : Number(values.ttl);
  if (!Number.isInteger(ttl) || ttl < 60 || ttl > 86_400) throw new Error('--ttl must be whole seconds from 60 to 86400');
  const issuer = loadDevIssuer(config.dataDir);
  console.log(await issuer.mint({ userId, email, orgId: values.org, ttlSeconds: ttl }));
}

async function rotateSigningKey(args: string[]): Promise<void> {
  const { values } = parseArgs({ args, options: { 'activate-in': { type: 'string' } }, strict: true });
  const delay = values['activate-in'] === undefined ? 0 : Number(values['activate-in']);
  if (!Number.isInteger(delay) || delay < 0 || delay > 7 * 24 * 3600) throw new Error('--activate-in must be whole seconds from 0 to 604800 (7 days)');
  const [{ loadConfig }, { createRuntimeDeps }, { rotateSigningKeyCommand }] = await Promise.all([server.config(), server.deps(), server.rotate()]);
  const deps = await createRuntimeDeps(loadConfig(), { runJobs: false });
  try {
    for (const line of await rotateSigningKeyCommand(deps, delay)) console.log(line);
  } finally {
    await deps.database.close();
  }
}

export async function runCli(argv: string[]): Promise<void> {
  const [command = 'serve', ...rest] = argv;
  try {
    if (command === 'serve') return await (await server.main()).serve();
    if (command === 'dev-token') return await devToken(rest);
    if (command === 'rotate-signing-key') return await rotateSigningKey(rest);
    if (isClientCommand(command)) {
      process.exitCode = await runClientCommand(command, rest, { env: process.env, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });
      return;
    }
    if (command === 'help' || command === '--help' || command === '-h') {
      console.log(USAGE);
      return;
    }
    throw new Error(`unknown command "${command}"\n${USAGE}`);
  } catch (error) {
    console.error(error instanceof Error ? error.message : String(error));
    process.exit(2);
  }
}
