import http from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createScratchDatabase, TEST_DIALECT, type ScratchDatabase } from '../helpers/database.js';
import { acceptsConnections, callJson, openRaw, send, sleep, type Outcome, type RawExchange } from '../helpers/http-client.js';
import { runCli, startServer, type ServerProcess } from '../helpers/server-process.js';

/**
 * SIGTERM under load (security test plan T30; issue 4 item 5): the built server as a real process, on
 * this run's database. Bounded everywhere: loops stop at a deadline, sockets have timeouts.
 */

interface Json {
  [key: string]: unknown;
}

const LOAD_CONNECTIONS = 16;
const SLOW_UPLOADS = 6;

async function waitUntil<T>(what: string, check: () => Promise<T | undefined>, timeoutMs = 20_000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

/** The server's own account of the requests it took in: Fastify's "incoming request" and "request completed" lines. */
function requestLog(output: string, since: number): { incoming: Set<string>; completed: Map<string, number> } {
  const incoming = new Set<string>();
  const completed = new Map<string, number>();
  for (const line of output.split('\n')) {
    if (!line.startsWith('{')) continue;
    const entry = JSON.parse(line) as { msg?: string; reqId?: string; time?: number; res?: { statusCode?: number } };
    if (!entry.reqId || (entry.time ?? 0) < since) continue;
    if (entry.msg === 'incoming request') incoming.add(entry.reqId);
    if (entry.msg === 'request completed') completed.set(entry.reqId, entry.res?.statusCode ?? 0);
  }
  return { incoming, completed };
}

/** When the server logged that it began shutting down (pino's epoch-ms `time`, the same clock as ours). */
function shutdownLoggedAt(output: string): number {
  const line = output.split('\n').find((l) => l.startsWith('{') && l.includes('"shutting down: refusing new connections'));
  if (!line) throw new Error('the server never logged the start of its shutdown');
  return (JSON.parse(line) as { time: number }).time;
}

describe(`graceful shutdown of the real process (${TEST_DIALECT})`, () => {
  let scratch: ScratchDatabase;
  let env: Record<string, string>;
  let token: string;

  beforeAll(async () => {
    scratch = await createScratchDatabase();
    env = {
      DATABASE_URL: scratch.url,
      DATA_DIR: scratch.dataDir,
      DEV_ISSUER: 'on',
      SIMULATED_STEP_MS: '50',
      JOB_POLL_INTERVAL_MS: '50',
      JOB_LEASE_MS: '1500',
    };
    token = (await runCli(['dev-token', '--email', 'drain@example.com'], env)).trim();
  });
  afterAll(async () => scratch.drop());

  /** A running cluster with a finished job and a pod, and a full API key: something real to read under load. */
  async function seed(server: ServerProcess) {
    // Each test seeds a cluster of its own in the same account: more than the free plan's one.
    expect((await callJson(server.baseUrl, 'POST', '/billing/subscription', token, { plan: 'business' })).status).toBe(200);
    const cloud = await callJson(server.baseUrl, 'POST', '/clouds', token, {
      name: `drain-${Date.now()}`,
      provider: 'aws',
      region: 'eu-west-1',
      credentials: { access_key_id: 'AKIAIOSFODNN7EXAMPLE', secret_access_key: 'wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEYab' },
    });
    expect(cloud.status).toBe(201);
    const created = await callJson<{ cluster: Json; job: Json }>(server.baseUrl, 'POST', '/clusters', token, { name: `drain-${Date.now()}`, cloud_id: cloud.json.id });
    expect(created.status).toBe(202);
    const clusterId = created.json.cluster.id as string;
    const jobId = created.json.job.id as string;
    await waitUntil('the cluster to run', async () => {
      const job = await callJson(server.baseUrl, 'GET', `/jobs/${jobId}`, token);
      return job.json.status === 'succeeded' ? true : undefined;
    });
    const pods = await callJson<{ data: Array<{ name: string }> }>(server.baseUrl, 'GET', `/clusters/${clusterId}/pods`, token);
    const pod = pods.json.data[0]?.name;
    expect(pod).toBeDefined();
    const key = await callJson<{ key: string }>(server.baseUrl, 'POST', '/api-keys', token, { name: 'load', scopes: ['full'] });
    expect(key.status).toBe(201);
    return { clusterId, jobId, pod: pod as string, key: key.json.key };
  }

  it('finishes every accepted request on SIGTERM under keep-alive load, answers /readyz 503 and exits 0', async () => {
    const server = await startServer({ ...env, LOG_LEVEL: 'info' });
    const port = Number(new URL(server.baseUrl).port);
    let signalled = false;
    try {
      const { clusterId, jobId, pod, key } = await seed(server);
      const loadStartedAt = Date.now();
      const auth = { authorization: `Bearer ${key}` };
      const paths = ['/me', '/clusters', `/jobs/${jobId}`, `/clusters/${clusterId}/pods/${pod}/logs?tail=5000`, '/healthz'];

      // Steady load: 16 keep-alive connections, each sending its next request as soon as the last is answered.
      const agent = new http.Agent({ keepAlive: true, maxSockets: LOAD_CONNECTIONS });
      const outcomes: Outcome[] = [];
      const loadDeadline = Date.now() + 15_000;
      const loops = Array.from({ length: LOAD_CONNECTIONS }, async (_, i) => {
        for (let n = i; Date.now() < loadDeadline; n++) {
          const outcome = await send(agent, server.baseUrl, paths[n % paths.length] as string, auth);
          outcomes.push(outcome);
          if (outcome.error) return; // the server is gone (or going): this connection is done
        }
      });
      await sleep(700);

      // Slow requests in flight when the signal comes: uploads whose body trickles in, a byte every 100 ms,
      // until the test lets them finish — so the drain lasts as long as the test needs, however busy the machine.
      const body = JSON.stringify({ name: 'slow-upload-key', scopes: ['clusters:read'] });
      const uploads: RawExchange[] = [];
      for (let i = 0; i < SLOW_UPLOADS; i++) {
        uploads.push(
          await openRaw(
            port,
            `POST /api-keys HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: ${body.length}\r\n\r\n${body.slice(0, 5)}`,
          ),
        );
      }
      let release = false;
      const trickle = (async () => {
        let sent = 5;
        for (const deadline = Date.now() + 20_000; !release && sent < body.length - 1 && Date.now() < deadline; sent++) {
          await sleep(100);
          for (const upload of uploads) upload.write(body.slice(sent, sent + 1));
        }
        while (!release) await sleep(20);
        for (const upload of uploads) upload.write(body.slice(sent));
      })();
      // Probes whose request line is still arriving when the signal comes (a health checker mid-request).
      const readyProbe = await openRaw(port, 'GET /readyz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      const liveProbe = await openRaw(port, 'GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n');
      // A followed log stream: it never ends by itself, so shutdown must end it cleanly.
      const follow = new Promise<{ ended: boolean; error: string | null; bytes: number }>((resolve) => {
        const request = http.get(`${server.baseUrl}/clusters/${clusterId}/pods/${pod}/logs?tail=3&follow=true`, { headers: auth }, (response) => {
          let bytes = 0;
          response.on('data', (chunk: Buffer) => (bytes += chunk.length));
          response.on('end', () => resolve({ ended: true, error: null, bytes }));
          response.on('error', (error: NodeJS.ErrnoException) => resolve({ ended: false, error: error.code ?? error.message, bytes }));
        });
        request.on('error', (error: NodeJS.ErrnoException) => resolve({ ended: false, error: error.code ?? error.message, bytes: 0 }));
        request.setTimeout(20_000, () => request.destroy(new Error('client timeout')));
      });
      await sleep(300);

      const signalledAt = Date.now();
      server.child.kill('SIGTERM');
      signalled = true;
      // New connections are refused as soon as the signal is handled (while the uploads still trickle in).
      await waitUntil('new connections to be refused', async () => ((await acceptsConnections(port)) ? undefined : true), 3_000);
      expect(server.child.exitCode).toBeNull();
      // A second signal during the drain changes nothing.
      server.child.kill('SIGTERM');
      server.child.kill('SIGINT');
      readyProbe.write('\r\n');
      liveProbe.write('\r\n');
      await Promise.allSettled([readyProbe.response, liveProbe.response]);
      expect(server.child.exitCode).toBeNull();
      release = true;

      const exitCode = await server.exited;
      const exitedAfterMs = Date.now() - signalledAt;
      await trickle;
      await Promise.all(loops);
      agent.destroy();

      expect(exitCode).toBe(0);
      expect(exitedAfterMs).toBeLessThan(10_000);

      // The slow uploads were accepted before the signal: each finished with its normal status.
      for (const upload of uploads) {
        const response = await upload.response;
        expect(response.status).toBe(201);
        expect(JSON.parse(response.body)).toMatchObject({ name: 'slow-upload-key', scopes: ['clusters:read'] });
        expect(response.headers.connection).toBe('close');
      }
      // Not ready from the moment shutdown began, but still alive; both tell the client to go elsewhere.
      const ready = await readyProbe.response;
      expect(ready.status).toBe(503);
      expect(ready.headers.connection).toBe('close');
      expect(JSON.parse(ready.body)).toMatchObject({ status: 503, detail: 'This instance is shutting down.' });
      const live = await liveProbe.response;
      expect(live.status).toBe(200);
      expect(live.headers.connection).toBe('close');
      // The followed stream ended as a finished response, not a reset.
      expect(await follow).toMatchObject({ ended: true, error: null });

      // Under load before the signal: every request answered, with its normal status.
      const before = outcomes.filter((o) => o.sentAt < signalledAt - 100);
      expect(before.length).toBeGreaterThan(20);
      expect(before.filter((o) => o.error !== undefined)).toEqual([]);
      const statuses = new Set(outcomes.filter((o) => o.status !== undefined).map((o) => o.status));
      expect([...statuses]).toEqual([200]);
      // After it: a request either got its normal answer (with `Connection: close`) or, on a new
      // connection, was refused. No resets: keep-alive sockets are closed by a goodbye, not under a request.
      const failures = outcomes.filter((o) => o.error !== undefined);
      expect(failures.filter((o) => o.error !== 'ECONNREFUSED' || o.reused || o.sentAt < signalledAt)).toEqual([]);
      // From the moment the server began shutting down (its own log line), every answer says `Connection: close`.
      const closingAt = shutdownLoggedAt(server.output());
      expect(outcomes.filter((o) => o.sentAt > closingAt + 20 && o.status !== undefined && o.connection !== 'close')).toEqual([]);
      // And the server's side of it: every request it took in, it answered — as many as the clients got back.
      const { incoming, completed } = requestLog(server.output(), loadStartedAt);
      // Each hand-written exchange is two requests (a warm-up, then the slow one); plus the followed stream.
      const answered = outcomes.filter((o) => o.status !== undefined).length + 2 * (uploads.length + 2) + 1;
      expect([...incoming].filter((id) => !completed.has(id))).toEqual([]);
      expect(incoming.size).toBe(answered);
    } finally {
      if (!signalled) server.child.kill('SIGTERM');
      await server.exited;
    }

    // The uploads' keys were committed: they exist after a restart.
    const again = await startServer(env);
    try {
      const keys = await callJson<{ data: Array<{ name: string }> }>(again.baseUrl, 'GET', '/api-keys?limit=100', token);
      expect(keys.json.data.filter((k) => k.name === 'slow-upload-key')).toHaveLength(SLOW_UPLOADS);
    } finally {
      again.child.kill('SIGTERM');
      expect(await again.exited).toBe(0);
    }
  }, 60_000);

  it('cuts a request still unfinished at the drain bound and exits 0 soon after', async () => {
    const server = await startServer({ ...env, SHUTDOWN_DRAIN_MS: '1000' });
    const port = Number(new URL(server.baseUrl).port);
    try {
      // An upload that never finishes: 64 bytes announced, 2 sent.
      const stuck = await openRaw(
        port,
        `POST /api-keys HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${token}\r\nContent-Type: application/json\r\nContent-Length: 64\r\n\r\n{"`,
      );
      await sleep(200);
      const signalledAt = Date.now();
      server.child.kill('SIGTERM');
      expect(await server.exited).toBe(0);
      const elapsed = Date.now() - signalledAt;
      expect(elapsed).toBeGreaterThanOrEqual(900);
      // Well before the forced exit (drain + 5 s), which would also have exited 1.
      expect(elapsed).toBeLessThan(1000 + 4000);
      await stuck.closed;
      expect(server.output()).toContain('requests still in flight after the drain bound; closing their connections');
    } finally {
      if (server.child.exitCode === null && server.child.signalCode === null) server.child.kill('SIGKILL');
      await server.exited;
    }
  });
});
