import { execFile } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { waitForJob } from '../helpers/fixtures.js';
import { startHarness, TEST_DIALECT, type Account, type Harness } from '../helpers/harness.js';
import { createTestApp, dagFootprint, type TestApp } from '../helpers/dags-fixtures.js';

const run = promisify(execFile);

/**
 * What real clients send over a socket: fetch's FormData and curl -F both declare Content-Length. A
 * refusal mid-stream must leave the connection idle again, or closing the server in afterAll would hang.
 */
describe(`DAG upload over a real socket (${TEST_DIALECT})`, () => {
  let h: Harness;
  let owner: Account;
  let app: TestApp;
  let base: string;
  let scratch: string;

  beforeAll(async () => {
    h = await startHarness({ runJobs: true });
    owner = await h.newAccount();
    app = await createTestApp(h, owner);
    base = await h.app.listen({ host: '127.0.0.1', port: 0 });
    scratch = mkdtempSync(path.join(tmpdir(), 'skd-dags-http-'));
  });
  afterAll(async () => {
    rmSync(scratch, { recursive: true, force: true });
    await h.close();
  });

  it('fetch with FormData uploads a file under its bundle path', async () => {
    const form = new FormData();
    form.append('file', new Blob(['print(1)\n']), 'dags/etl.py');
    const response = await fetch(`${base}/apps/${app.appId}/dags`, { method: 'POST', headers: owner.auth, body: form });
    expect(response.status).toBe(202);
    const body = (await response.json()) as { bundle: { version: number; files: Array<{ path: string }> }; job: { id: string } };
    expect(body.bundle.version).toBe(1);
    expect(body.bundle.files.map((file) => file.path)).toEqual(['dags/etl.py']);
    expect((await waitForJob(h, owner, body.job.id)).status).toBe('succeeded');
  });

  it('curl -F with ;filename= uploads a file from disk under its bundle path', async () => {
    const local = path.join(scratch, 'etl.py');
    writeFileSync(local, 'print(2)\n');
    const { stdout } = await run('curl', [
      '-sS', '-X', 'POST', `${base}/apps/${app.appId}/dags`,
      '-H', `Authorization: ${owner.auth.authorization}`,
      '-F', `file=@${local};filename=dags/etl.py`,
      '-w', '\n%{http_code}',
    ]);
    const [json, status] = stdout.split('\n');
    expect(status).toBe('202');
    expect((JSON.parse(json ?? '{}') as { bundle: { version: number } }).bundle.version).toBe(2);
  });

  it('a file over the limit gets its 413 over the socket; a chunked upload gets a 400 asking for Content-Length', async () => {
    const before = await dagFootprint(h);
    const form = new FormData();
    form.append('file', new Blob([`#${'x'.repeat(2 * 1024 * 1024)}`]), 'dags/big.py');
    const big = await fetch(`${base}/apps/${app.appId}/dags`, { method: 'POST', headers: owner.auth, body: form });
    expect(big.status).toBe(413);
    expect(((await big.json()) as { errors: unknown }).errors).toEqual([{ path: 'dags/big.py', message: 'is larger than 1 MiB (the limit per file)' }]);

    const boundary = 'chunked-boundary';
    const parts = [`--${boundary}\r\nContent-Disposition: form-data; name="file"; filename="a.py"\r\n\r\nprint(3)\r\n`, `--${boundary}--\r\n`];
    const stream = new ReadableStream<Uint8Array>({
      start(controller) {
        for (const part of parts) controller.enqueue(new TextEncoder().encode(part));
        controller.close();
      },
    });
    const chunked = await fetch(`${base}/apps/${app.appId}/dags`, {
      method: 'POST',
      headers: { ...owner.auth, 'content-type': `multipart/form-data; boundary=${boundary}` },
      body: stream,
      duplex: 'half',
    } as RequestInit);
    expect(chunked.status).toBe(400);
    expect(((await chunked.json()) as { errors: unknown }).errors).toEqual([{ path: 'header.content-length', message: 'is required for uploads' }]);
    expect(await dagFootprint(h)).toEqual(before);
  });
});
