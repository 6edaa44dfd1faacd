import path from 'node:path';
import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

describe('loadConfig', () => {
  it('applies the contract defaults', () => {
    const config = loadConfig({});
    expect(config.host).toBe('127.0.0.1');
    expect(config.port).toBe(8080);
    expect(config.database).toEqual({ kind: 'sqlite', file: path.resolve('./data/skaledata.db') });
    expect(config.clerk).toEqual({ jwtKey: null, devIssuer: true, issuer: null, authorizedParties: [], emailClaim: 'email' });
  });

  it('keeps the default SQLite file in DATA_DIR, and DATABASE_URL overrides it (CONTRACT §6)', () => {
    const elsewhere = path.join(path.sep, 'srv', 'skaledata');
    expect(loadConfig({ DATA_DIR: elsewhere }).database).toEqual({ kind: 'sqlite', file: path.join(elsewhere, 'skaledata.db') });
    expect(loadConfig({ DATA_DIR: 'rel/dir' }).database).toEqual({ kind: 'sqlite', file: path.resolve('rel/dir/skaledata.db') });
    expect(loadConfig({ DATA_DIR: elsewhere, DATABASE_URL: 'sqlite:./other.db' }).database).toEqual({ kind: 'sqlite', file: path.resolve('./other.db') });
  });

  it.each([
    ['PORT', 'abc'],
    ['PORT', '70000'],
    ['DATABASE_URL', 'mysql://x'],
    ['DATABASE_URL', 'sqlite:'],
    ['CLERK_JWT_KEY', 'not a pem'],
    ['CLERK_ISSUER', 'http://insecure.example'],
    ['CLERK_AUTHORIZED_PARTIES', 'not-an-origin'],
    ['ENCRYPTION_KEY', 'c2hvcnQ='],
    ['API_KEY_PEPPER', 'short'],
    ['LOG_LEVEL', 'loud'],
    ['INFRA_DRIVER', 'aws'],
    ['KEY_ACTIVITY_FLUSH_MS', '0'],
    ['KEY_ACTIVITY_BUFFER', '10'],
  ])('refuses %s=%s with one line naming the variable', (name, value) => {
    let error: unknown;
    try {
      loadConfig({ [name]: value });
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(name);
    expect((error as Error).message).toMatch(new RegExp(`^Invalid configuration: ${name} `));
    expect((error as Error).message).not.toContain('\n');
  });

  it('accepts a Clerk PEM given on one line with \\n escapes', () => {
    const pem = generateKeyPairSync('rsa', { modulusLength: 2048 }).publicKey.export({ type: 'spki', format: 'pem' }).toString();
    const config = loadConfig({ CLERK_JWT_KEY: pem.replace(/\n/g, '\\n'), CLERK_AUTHORIZED_PARTIES: 'https://a.example, https://b.example' });
    expect(config.clerk.jwtKey).toBe(pem);
    expect(config.clerk.authorizedParties).toEqual(['https://a.example', 'https://b.example']);
  });

  it('reads TRUST_PROXY as a list of proxy CIDRs (none by default) and names the variable when one is wrong', () => {
    expect(loadConfig({}).trustProxy).toEqual([]);
    expect(loadConfig({ TRUST_PROXY: ' 10.0.0.0/8, 127.0.0.1 ,::1' }).trustProxy).toEqual(['10.0.0.0/8', '127.0.0.1/32', '::1/128']);
    expect(() => loadConfig({ TRUST_PROXY: '10.0.0.0/8,proxy.internal' })).toThrow(/^Invalid configuration: TRUST_PROXY must be comma-separated proxy addresses or CIDRs/);
  });

  it('reads WEBHOOK_ALLOW_PRIVATE (off by default) and WEBHOOK_TIMEOUT_MS (10 s by default)', () => {
    expect(loadConfig({}).webhooks).toEqual({ allowPrivate: false, timeoutMs: 10_000 });
    expect(loadConfig({ WEBHOOK_ALLOW_PRIVATE: 'on', WEBHOOK_TIMEOUT_MS: '500' }).webhooks).toEqual({ allowPrivate: true, timeoutMs: 500 });
    expect(() => loadConfig({ WEBHOOK_ALLOW_PRIVATE: 'yes' })).toThrow(/^Invalid configuration: WEBHOOK_ALLOW_PRIVATE must be "on" or "off"/);
    expect(() => loadConfig({ WEBHOOK_TIMEOUT_MS: '0' })).toThrow(/^Invalid configuration: WEBHOOK_TIMEOUT_MS/);
  });

  it('reads RATE_LIMIT_DEFAULT (none by default), AUTH_FAILURE_LIMIT (60/60 by default, or off) and REDIS_URL (in process by default)', () => {
    expect(loadConfig({}).rateLimits).toEqual({ keyDefault: null, authFailures: { requests: 60, perSeconds: 60 }, redisUrl: null, redisKeyPrefix: 'skd:rl' });
    expect(loadConfig({ RATE_LIMIT_DEFAULT: '600/60', AUTH_FAILURE_LIMIT: 'off', REDIS_URL: 'redis://127.0.0.1:6379/2' }).rateLimits).toEqual({
      keyDefault: { requests: 600, perSeconds: 60 },
      authFailures: null,
      redisUrl: 'redis://127.0.0.1:6379/2',
      redisKeyPrefix: 'skd:rl',
    });
    expect(loadConfig({ REDIS_KEY_PREFIX: 'test:abc' }).rateLimits.redisKeyPrefix).toBe('test:abc');
    expect(loadConfig({ AUTH_FAILURE_LIMIT: ' 10 / 300 ' }).rateLimits.authFailures).toEqual({ requests: 10, perSeconds: 300 });
  });

  it.each([
    ['RATE_LIMIT_DEFAULT', '0/60'],
    ['RATE_LIMIT_DEFAULT', '600'],
    ['RATE_LIMIT_DEFAULT', 'off'],
    ['RATE_LIMIT_DEFAULT', '600/100000'],
    ['AUTH_FAILURE_LIMIT', '-1/60'],
    ['AUTH_FAILURE_LIMIT', 'no'],
    ['REDIS_URL', 'localhost:6379'],
    ['REDIS_URL', 'http://127.0.0.1:6379'],
    ['REDIS_KEY_PREFIX', 'has space'],
  ])('refuses %s=%j at start, naming the variable', (variable, value) => {
    expect(() => loadConfig({ [variable]: value })).toThrow(new RegExp(`^Invalid configuration: ${variable} must be`));
  });

  it('leaves metrics off unless METRICS_TOKEN or METRICS_PORT is set; METRICS_PORT listens on 127.0.0.1 by default', () => {
    expect(loadConfig({}).metrics).toBeNull();
    const token = 'a'.repeat(16);
    expect(loadConfig({ METRICS_TOKEN: token }).metrics).toEqual({ token, listener: null });
    expect(loadConfig({ METRICS_PORT: '9464' }).metrics).toEqual({ token: null, listener: { host: '127.0.0.1', port: 9464 } });
    expect(loadConfig({ METRICS_PORT: '0', METRICS_HOST: '0.0.0.0', METRICS_TOKEN: `${token}/+_~.-==` }).metrics).toEqual({
      token: `${token}/+_~.-==`,
      listener: { host: '0.0.0.0', port: 0 },
    });
  });

  it.each([
    ['METRICS_TOKEN', { METRICS_TOKEN: 'short' }, /must be 16 to 512 characters/],
    ['METRICS_TOKEN', { METRICS_TOKEN: 'has a space in the middle' }, /must be 16 to 512 characters/],
    ['METRICS_PORT', { METRICS_PORT: 'abc' }, /must be a whole number from 0 to 65535/],
    ['METRICS_PORT', { METRICS_PORT: '70000' }, /must be a whole number from 0 to 65535/],
    ['METRICS_PORT', { METRICS_PORT: '8080' }, /must differ from PORT \(8080\)/],
    ['METRICS_PORT', { PORT: '9000', METRICS_PORT: '9000' }, /must differ from PORT \(9000\)/],
    ['METRICS_HOST', { METRICS_HOST: '0.0.0.0' }, /METRICS_PORT is not/],
    ['METRICS_HOST', { METRICS_PORT: '9464', METRICS_HOST: 'http://x/' }, /must be an address or host name/],
  ])('refuses a bad %s at start, naming it (%j)', (variable, env, reason) => {
    let error: unknown;
    try {
      loadConfig(env);
    } catch (caught) {
      error = caught;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).variable).toBe(variable);
    expect((error as Error).message).toMatch(new RegExp(`^Invalid configuration: ${variable} `));
    expect((error as Error).message).toMatch(reason);
    // The token itself is never repeated back (it is a secret).
    expect((error as Error).message).not.toContain('has a space');
  });

  it('reads postgres URLs', () => {
    expect(loadConfig({ DATABASE_URL: 'postgres://u@127.0.0.1:5432/db', DEV_ISSUER: 'on' }).database).toEqual({ kind: 'postgres', url: 'postgres://u@127.0.0.1:5432/db' });
  });

  it('wants Clerk (or an explicit DEV_ISSUER=on) in front of a shared PostgreSQL database', () => {
    expect(() => loadConfig({ DATABASE_URL: 'postgres://u@127.0.0.1:5432/db' })).toThrow(/^Invalid configuration: CLERK_JWT_KEY is required with PostgreSQL/);
    expect(loadConfig({ DATABASE_URL: 'postgres://u@127.0.0.1:5432/db', DEV_ISSUER: 'on' }).clerk.devIssuer).toBe(true);
    expect(() => loadConfig({ DEV_ISSUER: 'off' })).toThrow(/^Invalid configuration: CLERK_JWT_KEY is required when DEV_ISSUER=off/);
  });
});
