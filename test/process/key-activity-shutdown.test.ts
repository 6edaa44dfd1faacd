import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../src/config.js';
import { openDatabase } from '../../src/db/database.js';
import { createScratchDatabase, TEST_DIALECT, type ScratchDatabase } from '../helpers/database.js';
import { callJson } from '../helpers/http-client.js';
import { runCli, startServer } from '../helpers/server-process.js';

/**
 * API key activity is written behind the requests; what is still in memory when the server is told to stop
 * is written before the database closes. The flush timer is set far beyond the test, so only the shutdown
 * can have written these rows.
 */
describe(`key activity on graceful shutdown (${TEST_DIALECT})`, () => {
  let scratch: ScratchDatabase;
  let env: Record<string, string>;

  beforeAll(async () => {
    scratch = await createScratchDatabase();
    env = { DATABASE_URL: scratch.url, DATA_DIR: scratch.dataDir, DEV_ISSUER: 'on', KEY_ACTIVITY_FLUSH_MS: '60000' };
  });
  afterAll(async () => scratch.drop());

  it('writes every noted request on SIGTERM, then exits 0', async () => {
    const token = (await runCli(['dev-token', '--email', 'activity@example.com'], env)).trim();
    const server = await startServer(env);
    const created = await callJson<{ id: string; key: string }>(server.baseUrl, 'POST', '/api-keys', token, { name: 'shutdown', scopes: ['full'] });
    expect(created.status).toBe(201);
    const { id, key } = created.json;
    for (let i = 0; i < 20; i++) expect((await callJson(server.baseUrl, 'GET', '/me', key)).status).toBe(200);
    for (let i = 0; i < 2; i++) expect((await callJson(server.baseUrl, 'POST', '/clouds', key, { name: 'x' })).status).toBe(400);

    server.child.kill('SIGTERM');
    expect(await server.exited).toBe(0);

    const database = openDatabase(loadConfig(env).database);
    try {
      const rows = await database.db.selectFrom('key_activity').select(['kind', 'route', 'status', 'count']).where('key_id', '=', id).execute();
      const total = (kind: string) => rows.filter((row) => row.kind === kind).reduce((sum, row) => sum + Number(row.count), 0);
      expect(total('reads')).toBe(20);
      expect(total('write')).toBe(2);
      expect(rows.filter((row) => row.kind === 'write').every((row) => row.route === '/clouds' && Number(row.status) === 400)).toBe(true);
    } finally {
      await database.close();
    }
  });
});
