import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadConfig } from './config.js';
import { earlierDefaultDatabaseWarning } from './main.js';

describe('earlierDefaultDatabaseWarning', () => {
  const earlier = path.resolve('./data/skaledata.db');
  const moved = loadConfig({ DATA_DIR: '/srv/skd' });
  const existing = (...files: string[]) => (file: string) => files.includes(file);

  it('warns when DATA_DIR moved the default database away from an earlier one that exists', () => {
    const warning = earlierDefaultDatabaseWarning(moved, { DATA_DIR: '/srv/skd' }, existing(earlier));
    expect(warning).toContain(earlier);
    expect(warning).toContain('/srv/skd/skaledata.db');
  });

  it('says nothing once the new database exists, when DATABASE_URL is set, or when nothing was there', () => {
    expect(earlierDefaultDatabaseWarning(moved, { DATA_DIR: '/srv/skd' }, existing(earlier, '/srv/skd/skaledata.db'))).toBeNull();
    expect(earlierDefaultDatabaseWarning(moved, { DATA_DIR: '/srv/skd', DATABASE_URL: 'sqlite:/srv/skd/skaledata.db' }, existing(earlier))).toBeNull();
    expect(earlierDefaultDatabaseWarning(moved, { DATA_DIR: '/srv/skd' }, existing())).toBeNull();
    expect(earlierDefaultDatabaseWarning(loadConfig({}), {}, existing(earlier))).toBeNull();
  });
});
