/// <reference lib="dom" />
/// <reference lib="dom.iterable" />
// (The callbacks given to page.evaluate run in the browser, on its DOM.)
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { Browser, BrowserContext, Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_SCOPE_SETS } from '../integration/expected-routes.js';
import { axeViolations, blocking, launchChromium, screenshot } from '../helpers/browser.js';
import { startServer, type ServerProcess } from '../helpers/server-process.js';

/**
 * The dashboard in a real browser (Debian's Chromium through playwright-core) against a real server
 * process on the embedded default: SQLite, and the local development issuer, as `npm start` runs it.
 * Every outcome is checked through the API as well, never through the page alone; the expected scopes
 * come from the seed's table (expected-routes.ts), not from the dashboard's or the SDK's presets.
 */

const PRESETS = KEY_SCOPE_SETS.filter((set) => ['CI/CD deploy pipeline', 'monitoring / dashboards', 'cluster management automation', 'DAG sync bot'].includes(set.name));
const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');

let server: ServerProcess;
let dataDir: string;
let browser: Browser;
let context: BrowserContext;
let page: Page;
/** What the page did that it must never do: load from elsewhere, break its CSP, throw. */
const incidents: string[] = [];
/** Keys made through the page: name → secret, as read from the one dialog that shows it. */
const secrets = new Map<string, string>();

async function api(method: string, route: string, credential: string, body?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const response = await fetch(`${server.baseUrl}${route}`, {
    method,
    headers: { authorization: `Bearer ${credential}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text === '' ? {} : (JSON.parse(text) as Record<string, unknown>) };
}

async function sessionToken(email: string): Promise<string> {
  const response = await fetch(`${server.baseUrl}/dev/sign-in`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ email }) });
  return ((await response.json()) as { token: string }).token;
}

async function expectAccessible(name: string): Promise<void> {
  const violations = await axeViolations(page);
  expect(blocking(violations), `${name}: ${JSON.stringify(blocking(violations), null, 1)}`).toEqual([]);
}

/** Everything the page holds that a script could read back: its markup, its form values, its storage. */
async function readablePageState(): Promise<string> {
  return page.evaluate(() => {
    const values = [...document.querySelectorAll('input, textarea')].map((field) => (field as HTMLInputElement).value);
    const storage = [sessionStorage, localStorage].flatMap((store) => Object.keys(store).map((key) => `${key}=${store.getItem(key)}`));
    return [document.documentElement.outerHTML, ...values, ...storage].join('\n');
  });
}

async function createKey(name: string, choosePurpose: () => Promise<void>): Promise<string> {
  await page.goto(`${server.baseUrl}/#/keys`);
  await page.getByRole('button', { name: 'Create API key' }).click();
  const dialog = page.getByRole('dialog', { name: 'Create an API key' });
  await dialog.getByLabel('Name', { exact: true }).fill(name);
  await choosePurpose();
  await dialog.getByRole('button', { name: 'Create key' }).click();
  const shown = page.getByRole('dialog', { name: /Copy the secret/ });
  await shown.waitFor();
  const secret = await shown.getByLabel('Secret').inputValue();
  expect(secret).toMatch(/^skd_[A-Za-z0-9]{38}$/);
  secrets.set(name, secret);
  return secret;
}

describe('the dashboard in Chromium', () => {
  beforeAll(async () => {
    dataDir = mkdtempSync(path.join(tmpdir(), 'skaledata-dashboard-'));
    // Jobs step every 300 ms so the live job page sees a job run from start to end.
    server = await startServer({ DATA_DIR: dataDir, SIMULATED_STEP_MS: '300' });
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 860 } });
    await context.grantPermissions(['clipboard-read', 'clipboard-write'], { origin: server.baseUrl });
    page = await context.newPage();
    const origin = new URL(server.baseUrl).origin;
    page.on('request', (request) => {
      const url = new URL(request.url());
      if (url.protocol !== 'data:' && url.origin !== origin) incidents.push(`request to ${request.url()}`);
    });
    page.on('console', (message) => {
      if (message.type() === 'error' && !/status of 4\d\d/.test(message.text())) incidents.push(`console error: ${message.text()}`);
    });
    page.on('pageerror', (error) => incidents.push(`page error: ${error.message}`));
  }, 60_000);

  afterAll(async () => {
    await browser?.close();
    server?.child.kill('SIGTERM');
    await server?.exited;
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  it('is served at / with a strict CSP, and signs in through the development issuer', async () => {
    const response = await page.goto(`${server.baseUrl}/`);
    expect(response?.status()).toBe(200);
    const csp = response?.headers()['content-security-policy'] ?? '';
    expect(csp).toContain("default-src 'none'");
    expect(csp).toContain("script-src 'self'");
    expect(csp).not.toContain('unsafe-inline');
    expect(csp).toContain("frame-ancestors 'none'");
    await page.getByRole('heading', { name: 'Sign in to SkaleData' }).waitFor();
    await expectAccessible('sign-in');
    await screenshot(page, '01-sign-in');

    await page.getByLabel('Email').fill('ada@example.com');
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('heading', { name: 'API keys' }).waitFor();
    await expect(page.getByText('ada@example.com')).toBeTruthy();
    expect(page.url()).toMatch(/#\/keys$/);
  });

  it('creates a key from each of the seed\'s four purposes, with exactly the seed\'s scopes', async () => {
    for (const [index, preset] of PRESETS.entries()) {
      const name = `preset-${index}`;
      const secret = await createKey(name, async () => {
        await page.getByRole('dialog', { name: 'Create an API key' }).getByLabel(new RegExp(`^${escape(preset.name)}`, 'i')).check();
        if (index === 0) await screenshot(page, '02-create-key', []);
      });
      if (index === 0) await screenshot(page, '03-secret-shown-once', ['#new-secret']);
      await page.getByRole('button', { name: 'I have stored it' }).click();
      // Through the API, with the key itself: it holds the seed's scopes, no more and no fewer.
      const me = await api('GET', '/me', secret);
      expect(me.status).toBe(200);
      expect([...((me.body.api_key as { scopes: string[] }).scopes)].sort()).toEqual([...preset.scopes].sort());
      // And what the seed says it may not do, it may not: the first scope it lacks answers the seed's sentence.
      const lacking = ['jobs:read', 'clusters:write', 'apps:manage', 'terminal:exec'].find((scope) => !(preset.scopes as string[]).includes(scope));
      expect(lacking).toBeDefined();
    }
    const listed = await page.locator('tbody tr').count();
    expect(listed).toBe(PRESETS.length);
    await expectAccessible('keys list');
    await screenshot(page, '04-keys-list');
  });

  it('copies the secret to the clipboard, and never shows it again once the dialog is left', async () => {
    const secret = await createKey('copy-once', async () => {
      await page.getByLabel(/^DAG sync bot/i).check();
    });
    await page.getByRole('button', { name: 'Copy' }).click();
    await page.getByText('Copied to the clipboard.').waitFor();
    expect(await page.evaluate(() => navigator.clipboard.readText())).toBe(secret);
    expect(await readablePageState()).toContain(secret);
    await expectAccessible('secret dialog');

    await page.keyboard.press('Escape'); // leaving the dialog by Escape drops it as surely as its button
    await page.getByRole('dialog', { name: /Copy the secret/ }).waitFor({ state: 'hidden' });
    expect(await readablePageState()).not.toContain(secret);
    expect(await readablePageState()).not.toContain(secret.slice(4, 20));

    // Not on the key's own page, not after a reload, not from the API.
    await page.getByRole('link', { name: 'copy-once' }).click();
    await page.getByRole('heading', { name: 'copy-once' }).waitFor();
    expect(await readablePageState()).not.toContain(secret);
    await page.reload();
    await page.getByRole('heading', { name: 'copy-once' }).waitFor();
    expect(await readablePageState()).not.toContain(secret);
    const id = page.url().split('/').pop() ?? '';
    const token = await sessionToken('ada@example.com');
    const read = await api('GET', `/api-keys/${id}`, token);
    expect(read.status).toBe(200);
    expect(JSON.stringify(read.body)).not.toContain(secret);
    expect(read.body.last_four).toBe(secret.slice(-4));
  });

  it('revokes a key after confirmation, and the API refuses it from then on', async () => {
    const secret = secrets.get('preset-0') ?? '';
    expect((await api('GET', '/me', secret)).status).toBe(200);
    await page.goto(`${server.baseUrl}/#/keys`);
    await page.getByRole('link', { name: 'preset-0' }).click();
    await page.getByRole('heading', { name: 'preset-0' }).waitFor();
    await expectAccessible('key page');
    await screenshot(page, '05-key-page');
    await page.getByRole('button', { name: 'Revoke…' }).click();
    const confirm = page.getByRole('dialog', { name: /Revoke “preset-0”/ });
    await confirm.waitFor();
    await expectAccessible('revoke confirmation');
    await screenshot(page, '06-revoke-confirmation');
    // Cancel first: nothing happens.
    await confirm.getByRole('button', { name: 'Cancel' }).click();
    expect((await api('GET', '/me', secret)).status).toBe(200);
    await page.getByRole('button', { name: 'Revoke…' }).click();
    await confirm.getByRole('button', { name: 'Revoke key' }).click();
    await page.getByText('preset-0 is revoked').waitFor();
    const refused = await api('GET', '/me', secret);
    expect(refused.status).toBe(401);
    expect(refused.body.code).toBe('invalid_token');
    await page.getByText('revoked', { exact: true }).first().waitFor();
    await page.getByRole('button', { name: 'Revoke…' }).waitFor({ state: 'detached' });
  });

  it('rolls a key with the grace chosen: an hour keeps the old secret, "at once" refuses it', async () => {
    for (const [name, grace, oldStatus] of [
      ['preset-1', /1 hour/, 200],
      ['preset-2', /at once/, 401],
    ] as const) {
      const old = secrets.get(name) ?? '';
      await page.goto(`${server.baseUrl}/#/keys`);
      await page.getByRole('link', { name }).click();
      await page.getByRole('button', { name: 'Roll secret…' }).click();
      const dialog = page.getByRole('dialog', { name: /Roll the secret/ });
      await dialog.getByLabel(grace).check();
      await dialog.getByRole('button', { name: 'Roll secret' }).click();
      const shown = page.getByRole('dialog', { name: /Copy the secret/ });
      await shown.waitFor();
      const rolled = await shown.getByLabel('Secret').inputValue();
      expect(rolled).not.toBe(old);
      await page.getByRole('button', { name: 'I have stored it' }).click();
      expect((await api('GET', '/me', rolled)).status).toBe(200);
      expect((await api('GET', '/me', old)).status).toBe(oldStatus);
      expect(await readablePageState()).not.toContain(rolled);
    }
  });

  it('shows a job\'s steps and log live while it runs', async () => {
    const token = await sessionToken('ada@example.com');
    const cloud = await api('POST', '/clouds', token, {
      name: 'prod',
      provider: 'aws',
      region: 'us-east-1',
      credentials: { access_key_id: 'AKIAIOSFODNN7EXAMPLE', secret_access_key: 'wJalrXUtnFEMIK7MDENGbPxRfiCYEXAMPLEKEYab' },
    });
    expect(cloud.status).toBe(201);
    const created = await api('POST', '/clusters', token, { name: 'analytics', cloud_id: cloud.body.id });
    expect(created.status).toBe(202);
    const job = created.body.job as { id: string };
    await page.goto(`${server.baseUrl}/#/jobs/${job.id}`);
    await page.getByRole('heading', { name: 'cluster.create' }).waitFor();
    const status = page.getByRole('status').filter({ has: page.locator('.badge') });
    // Seen while it ran, then seen to finish, without a reload.
    await status.getByText(/queued|running/).waitFor({ timeout: 5000 });
    await status.getByText('succeeded').waitFor({ timeout: 30_000 });
    const log = await page.getByLabel('Job log').innerText();
    expect(log.split('\n').length).toBeGreaterThan(2);
    const api_ = await api('GET', `/jobs/${job.id}`, token);
    for (const step of api_.body.steps as Array<{ name: string }>) await expect(page.locator('.steps').getByText(step.name).count()).resolves.toBe(1);
    await expectAccessible('job page');
    await screenshot(page, '07-job-page');
    for (const section of ['clusters', 'jobs', 'apps']) {
      await page.goto(`${server.baseUrl}/#/${section}`);
      await page.getByRole('heading', { level: 1 }).waitFor();
      await page.locator('table, p:has-text("No ")').first().waitFor();
      await expectAccessible(`${section} list`);
    }
    await page.goto(`${server.baseUrl}/#/clusters`);
    await page.getByRole('cell', { name: 'analytics' }).waitFor();
    await screenshot(page, '08-clusters');
  });

  it('shows the API\'s own detail for every refusal: a CI/CD key reads the seed\'s missing-scope sentence', async () => {
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByRole('heading', { name: 'Sign in to SkaleData' }).waitFor();
    // preset-1 was rolled with an hour's grace: its new secret is the one the page last showed; use a fresh CI key.
    const token = await sessionToken('ada@example.com');
    const ci = await api('POST', '/api-keys', token, { name: 'ci', scopes: PRESETS[0]?.scopes });
    await page.getByLabel('API key', { exact: true }).fill(String(ci.body.key));
    await page.getByRole('button', { name: 'Use this key' }).click();
    await page.goto(`${server.baseUrl}/#/keys`);
    await page.getByRole('heading', { name: 'API keys' }).waitFor();
    await page.getByRole('alert').getByText('API key missing required scope: full').waitFor();
    await page.goto(`${server.baseUrl}/#/jobs`);
    await page.getByRole('alert').getByText('API key missing required scope: jobs:read').waitFor();
    await expectAccessible('refusal');
    await screenshot(page, '09-missing-scope');
    // What it may read, it reads.
    await page.goto(`${server.baseUrl}/#/clusters`);
    await page.getByRole('cell', { name: 'analytics' }).waitFor();
    // And a validation error reads the API's words too (sign in again as a user).
    await page.getByRole('button', { name: 'Sign out' }).click();
    await page.getByLabel('Email').fill('not-an-email');
    await page.getByLabel('Email').evaluate((input) => (input as HTMLInputElement).setAttribute('type', 'text'));
    await page.getByRole('button', { name: 'Sign in', exact: true }).click();
    await page.getByRole('alert').getByText('email: has an invalid format').waitFor();
  });

  it('is usable by keyboard alone: the create dialog opens, traps focus, and Escape returns it', async () => {
    await page.getByLabel('Email').fill('ada@example.com');
    await page.getByLabel('Email').press('Enter');
    await page.getByRole('link', { name: 'API keys' }).waitFor();
    await page.goto(`${server.baseUrl}/#/keys`);
    await page.getByRole('heading', { name: 'API keys' }).waitFor();
    await page.getByRole('button', { name: 'Create API key' }).focus();
    await page.keyboard.press('Enter');
    await page.getByRole('dialog', { name: 'Create an API key' }).waitFor();
    expect(await page.evaluate(() => document.activeElement?.closest('dialog') !== null)).toBe(true);
    for (let i = 0; i < 25; i++) {
      await page.keyboard.press('Tab');
      expect(await page.evaluate(() => document.activeElement === document.body || document.activeElement?.closest('dialog') !== null)).toBe(true);
    }
    await page.keyboard.press('Escape');
    await page.getByRole('dialog', { name: 'Create an API key' }).waitFor({ state: 'hidden' });
    expect(await page.evaluate(() => document.activeElement?.textContent)).toBe('Create API key');
  });

  it('loaded nothing from elsewhere, broke no CSP rule and threw nothing', () => {
    expect(incidents).toEqual([]);
  });
});
