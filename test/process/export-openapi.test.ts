import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, describe, expect, it } from 'vitest';

const run = promisify(execFile);
const SCRIPT = path.resolve(import.meta.dirname, '../../scripts/export-openapi.mjs');

/**
 * `node scripts/export-openapi.mjs <out.json>`: the interface `npm run lint` and the SDK generator both
 * call (it reads the compiled app in dist/, which `npm test` builds first).
 */
describe('scripts/export-openapi.mjs', () => {
  const dir = mkdtempSync(path.join(tmpdir(), 'export-openapi-test-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('writes the document of the compiled app, with PUBLIC_URL as its server, from any folder', async () => {
    const out = path.join(dir, 'openapi.json');
    const { stderr } = await run(process.execPath, [SCRIPT, out], { cwd: dir, env: { ...process.env, PUBLIC_URL: 'https://api.skaledata.test' }, timeout: 60_000 });
    expect(stderr).toBe('');
    const document = JSON.parse(readFileSync(out, 'utf8')) as { openapi: string; servers: Array<{ url: string }>; paths: Record<string, Record<string, { operationId?: string }>> };
    expect(document.openapi).toBe('3.1.0');
    expect(document.servers[0]?.url).toBe('https://api.skaledata.test');
    expect(document.paths['/clusters']?.get?.operationId).toBe('listClusters');
    // Nothing but the document is left in the folder it ran in (its data folder was a temporary one).
    expect(readdirSync(dir)).toEqual(['openapi.json']);
  });

  it('without exactly one output path, says how to call it and exits 2', async () => {
    const failure = await run(process.execPath, [SCRIPT], { cwd: dir, timeout: 30_000 }).catch((error: { code: number; stderr: string }) => error);
    expect(failure).toMatchObject({ code: 2 });
    expect((failure as { stderr: string }).stderr).toMatch(/usage: node scripts\/export-openapi\.mjs <out\.json>/);
  });
});
