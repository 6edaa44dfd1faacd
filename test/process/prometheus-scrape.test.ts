import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { freePort, startServer, type ServerProcess } from '../helpers/server-process.js';

/**
 * GET /metrics read by the real counterpart: Debian's Prometheus server scrapes the built API (a real
 * process on the embedded default) with METRICS_TOKEN as its bearer credential, and its own query API
 * answers with what we counted; a scrape job holding a wrong token is refused (the target is down).
 * `promtool check metrics`, Prometheus's own linter, passes the exposition. (.ci/run installs the
 * `prometheus` package, which brings both.)
 */

const PROMETHEUS = process.env.PROMETHEUS_PATH ?? '/usr/bin/prometheus';
const PROMTOOL = process.env.PROMTOOL_PATH ?? '/usr/bin/promtool';
const TOKEN = `scrape-${randomBytes(16).toString('hex')}`;

interface Vector {
  metric: Record<string, string>;
  value: [number, string];
}

let server: ServerProcess;
let prometheus: ChildProcess;
let promUrl: string;
let dir: string;
let promLog = '';

async function query(expression: string): Promise<Vector[]> {
  const response = await fetch(`${promUrl}/api/v1/query?query=${encodeURIComponent(expression)}`);
  const body = (await response.json()) as { status: string; data: { resultType: string; result: Vector[] } };
  expect(body.status).toBe('success');
  return body.data.result;
}

/** Polls a PromQL expression until `ok` accepts its result (Prometheus scrapes every second here). */
async function eventually(expression: string, ok: (result: Vector[]) => boolean, timeoutMs = 20_000): Promise<Vector[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const result = await query(expression);
    if (ok(result)) return result;
    if (Date.now() > deadline) throw new Error(`${expression} never satisfied: ${JSON.stringify(result)}\nprometheus:\n${promLog.slice(-3000)}`);
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
}

describe('Prometheus scrapes GET /metrics', () => {
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'skaledata-prometheus-'));
    server = await startServer({ DATA_DIR: path.join(dir, 'api'), METRICS_TOKEN: TOKEN });
    const target = new URL(server.baseUrl).host;
    writeFileSync(path.join(dir, 'token'), TOKEN);
    writeFileSync(path.join(dir, 'wrong-token'), 'not-the-metrics-token-at-all');
    writeFileSync(
      path.join(dir, 'prometheus.yml'),
      [
        'global: { scrape_interval: 1s, scrape_timeout: 900ms }',
        'scrape_configs:',
        `  - job_name: skaledata`,
        `    authorization: { type: Bearer, credentials_file: ${path.join(dir, 'token')} }`,
        `    static_configs: [{ targets: ['${target}'] }]`,
        `  - job_name: wrong-token`,
        `    authorization: { type: Bearer, credentials_file: ${path.join(dir, 'wrong-token')} }`,
        `    static_configs: [{ targets: ['${target}'] }]`,
        '',
      ].join('\n'),
    );
    const port = await freePort();
    promUrl = `http://127.0.0.1:${port}`;
    prometheus = spawn(PROMETHEUS, [`--config.file=${path.join(dir, 'prometheus.yml')}`, `--storage.tsdb.path=${path.join(dir, 'tsdb')}`, `--web.listen-address=127.0.0.1:${port}`], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    prometheus.stdout?.on('data', (chunk: Buffer) => (promLog += chunk.toString()));
    prometheus.stderr?.on('data', (chunk: Buffer) => (promLog += chunk.toString()));
    const deadline = Date.now() + 20_000;
    for (;;) {
      const ready = await fetch(`${promUrl}/-/ready`).then((r) => r.ok, () => false);
      if (ready) break;
      if (Date.now() > deadline || prometheus.exitCode !== null) throw new Error(`prometheus did not start:\n${promLog}`);
      await new Promise((resolve) => setTimeout(resolve, 200));
    }
  }, 60_000);

  afterAll(async () => {
    prometheus?.kill('SIGTERM');
    server?.child.kill('SIGTERM');
    await server?.exited;
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('scrapes with the token: the target is up, and the requests we made are counted by route template', async () => {
    const session = (await (await fetch(`${server.baseUrl}/dev/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"email":"prom@example.com"}' })).json()) as { token: string };
    const created = (await (
      await fetch(`${server.baseUrl}/api-keys`, { method: 'POST', headers: { authorization: `Bearer ${session.token}`, 'content-type': 'application/json' }, body: '{"name":"ci","scopes":["apps:deploy"]}' })
    ).json()) as { key: string };
    for (let i = 0; i < 7; i++) expect((await fetch(`${server.baseUrl}/me`, { headers: { authorization: `Bearer ${created.key}` } })).status).toBe(200);
    for (const id of ['cls_00000000000000000000001', 'cls_00000000000000000000002']) {
      expect((await fetch(`${server.baseUrl}/clusters/${id}`, { headers: { authorization: `Bearer ${created.key}` } })).status).toBe(403);
    }

    await eventually('up{job="skaledata"}', (result) => result[0]?.value[1] === '1');
    await eventually('sum(skaledata_http_request_duration_seconds_count{job="skaledata",route="/me",method="GET",status_code="200"})', (result) => Number(result[0]?.value[1]) === 7);
    const refused = await eventually(
      'skaledata_auth_decisions_total{job="skaledata",outcome="insufficient_scope",required_scope="clusters:read"}',
      (result) => Number(result[0]?.value[1]) === 2,
    );
    expect(refused).toHaveLength(1);
    // Bounded labels: the two cluster ids are one series under the route's template, and no id is a label value anywhere.
    const byCluster = await query('skaledata_http_request_duration_seconds_count{job="skaledata",route="/clusters/:id"}');
    expect(byCluster).toHaveLength(1);
    expect(Number(byCluster[0]?.value[1])).toBe(2);
    const values = await (await fetch(`${promUrl}/api/v1/label/route/values`)).json();
    expect(JSON.stringify(values)).not.toMatch(/cls_|key_|user_dev/);
  });

  it('refuses the scrape with a wrong token: that target is down, with our 401 as its error', async () => {
    await eventually('up{job="wrong-token"}', (result) => result[0]?.value[1] === '0');
    const targets = (await (await fetch(`${promUrl}/api/v1/targets?state=active`)).json()) as { data: { activeTargets: Array<{ labels: { job: string }; lastError: string; health: string }> } };
    const wrong = targets.data.activeTargets.find((target) => target.labels.job === 'wrong-token');
    expect(wrong?.health).toBe('down');
    expect(wrong?.lastError).toMatch(/401/);
  });

  it('passes promtool check metrics, Prometheus\'s own linter of the exposition format', async () => {
    const text = await (await fetch(`${server.baseUrl}/metrics`, { headers: { authorization: `Bearer ${TOKEN}` } })).text();
    const checked = spawnSync(PROMTOOL, ['check', 'metrics'], { input: text, encoding: 'utf8' });
    // It parses (a parse error exits 1); the only findings are prom-client's own long-standing default gauge
    // names (nodejs_active_*_total), which dashboards expect as they are. Ours draw none.
    const findings = `${checked.stdout}${checked.stderr}`.split('\n').filter(Boolean);
    expect(checked.status === 0 || checked.status === 3, findings.join('\n')).toBe(true);
    const ours = findings.filter((line) => !/^nodejs_active_(handles|requests|resources)_total non-counter metrics should not have "_total" suffix$/.test(line));
    expect(ours).toEqual([]);
    expect(text).toContain('skaledata_http_request_duration_seconds_bucket');
  });
});
