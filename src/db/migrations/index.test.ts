import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { MIGRATIONS } from './index.js';

describe('the migration list', () => {
  it('names every migration file in its folder, under the file name, in order', () => {
    const files = readdirSync(import.meta.dirname)
      .filter((name) => /^\d{4}-[a-z0-9-]+\.ts$/.test(name))
      .map((name) => name.replace(/\.ts$/, ''))
      .sort();
    expect(files.length).toBeGreaterThan(0);
    expect(Object.keys(MIGRATIONS)).toEqual(files);
  });
});
