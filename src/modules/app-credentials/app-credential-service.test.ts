import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { parseImageReference } from '../../lib/image-reference.js';
import { registryRepository } from '../registry/registry-service.js';
import { appNamespace } from './app-credential-service.js';
import { plainName, shellQuote } from './deploy-script.js';

describe('registryRepository', () => {
  it('is <account id>/<app name> for lowercase account ids', () => {
    expect(registryRepository('user_6d42224908a52642', 'web')).toBe('user_6d42224908a52642/web');
    expect(registryRepository('org_abc123', 'etl')).toBe('org_abc123/etl');
  });

  it('keeps mixed-case account ids apart (registry paths are lowercase)', () => {
    const one = registryRepository('user_2AbC', 'web');
    const two = registryRepository('user_2aBc', 'web');
    expect(one).toMatch(/^user_2abc-[0-9a-f]{10}\/web$/);
    expect(two).toMatch(/^user_2abc-[0-9a-f]{10}\/web$/);
    expect(one).not.toBe(two);
    expect(one).not.toBe(registryRepository('user_2abc', 'web'));
  });

  it('makes image references the deploy endpoint accepts', () => {
    for (const account of ['user_6d42224908a52642', 'user_2AbC', 'org_2xYz9']) {
      const reference = parseImageReference(`registry.skaledata.local/${registryRepository(account, 'my-app')}:v1`);
      expect(reference.ok, JSON.stringify(reference)).toBe(true);
    }
  });
});

describe('appNamespace', () => {
  it('is app-<name>, within the 63-character label limit', () => {
    expect(appNamespace('web')).toBe('app-web');
    expect(appNamespace('a'.repeat(80))).toHaveLength(63);
  });
});

describe('shellQuote and plainName', () => {
  it.each(["plain", "it's", "$(touch /tmp/x)`id`", "a\nb", "'\"'\\", ''])('sh reads %j back exactly', (value) => {
    const result = spawnSync('sh', ['-c', `printf '%s' ${shellQuote(value)}`], { encoding: 'utf8' });
    expect(result.status).toBe(0);
    expect(result.stdout).toBe(value);
  });

  it('keeps only safe characters for comments and file names', () => {
    expect(plainName('deploy-web.sh')).toBe('deploy-web.sh');
    expect(plainName('a"b\nc;d')).toBe('a?b?c?d');
  });
});
