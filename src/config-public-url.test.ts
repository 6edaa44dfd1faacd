import { describe, expect, it } from 'vitest';
import { ConfigError, loadConfig } from './config.js';

/** PUBLIC_URL (the `iss` of every token we sign) and REGISTRY_SERVICE (the registry tokens' `aud`). */
describe('PUBLIC_URL and REGISTRY_SERVICE', () => {
  it('default to where the server listens and the built-in registry name', () => {
    expect(loadConfig({}).publicUrl).toBe('http://127.0.0.1:8080');
    expect(loadConfig({ HOST: '0.0.0.0', PORT: '9000' }).publicUrl).toBe('http://0.0.0.0:9000');
    expect(loadConfig({ HOST: '::1', PORT: '9000' }).publicUrl).toBe('http://[::1]:9000');
    expect(loadConfig({}).registryService).toBe('registry.skaledata.local');
  });

  it('take an http(s) URL, without its trailing slash, and a host[:port]', () => {
    expect(loadConfig({ PUBLIC_URL: 'https://api.skaledata.com/' }).publicUrl).toBe('https://api.skaledata.com');
    expect(loadConfig({ PUBLIC_URL: 'https://example.com/skaledata/' }).publicUrl).toBe('https://example.com/skaledata');
    expect(loadConfig({ REGISTRY_SERVICE: 'registry.example.com:5000' }).registryService).toBe('registry.example.com:5000');
  });

  it.each([
    ['PUBLIC_URL', 'api.skaledata.com'],
    ['PUBLIC_URL', 'ftp://api.skaledata.com'],
    ['PUBLIC_URL', 'https://user:pass@api.skaledata.com'],
    ['PUBLIC_URL', 'https://api.skaledata.com/?x=1'],
    ['PUBLIC_URL', 'https://api.skaledata.com/#top'],
    ['REGISTRY_SERVICE', 'Registry.Example.com'],
    ['REGISTRY_SERVICE', 'https://registry.example.com'],
    ['REGISTRY_SERVICE', 'registry.example.com/path'],
    ['REGISTRY_SERVICE', '-registry.example.com'],
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
  });
});
