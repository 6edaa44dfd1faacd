#!/usr/bin/env node
// Writes the OpenAPI document of the compiled app (dist/, so run `npm run build` first) to a file:
//   node scripts/export-openapi.mjs <out.json>
// The app is built as the server builds it, on a throwaway SQLite data folder with the local development
// issuer, so the document is exactly what GET /openapi.json serves. PUBLIC_URL, when set, becomes the
// document's server (as it does for the running server); nothing else is read from the environment.
// `npm run lint` lints the result with Redocly; SDK generators call this same script.
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const DIST = path.join(ROOT, 'dist');

const out = process.argv[2];
if (out === undefined || process.argv.length !== 3) {
  console.error('usage: node scripts/export-openapi.mjs <out.json>');
  process.exit(2);
}
if (!existsSync(path.join(DIST, 'app.js'))) {
  console.error('export-openapi: dist/ is not built yet; run `npm run build` first.');
  process.exit(2);
}

const load = (file) => import(new URL(`file://${path.join(DIST, file)}`).href);
const [{ buildApp }, { loadConfig }, { createRuntimeDeps }] = await Promise.all([load('app.js'), load('config.js'), load('deps.js')]);

const dataDir = await mkdtemp(path.join(os.tmpdir(), 'skaledata-openapi-'));
let exitCode = 0;
try {
  const env = { DATA_DIR: dataDir, DATABASE_URL: `sqlite:${path.join(dataDir, 'skaledata.db')}`, LOG_LEVEL: 'silent' };
  if (process.env.PUBLIC_URL) env.PUBLIC_URL = process.env.PUBLIC_URL;
  // No CLERK_JWT_KEY: the local development issuer, whose key pair lives (and dies) in the temp folder.
  const deps = await createRuntimeDeps(loadConfig(env), { runJobs: false });
  try {
    const app = await buildApp(deps);
    try {
      const response = await app.inject({ method: 'GET', url: '/openapi.json' });
      if (response.statusCode !== 200) throw new Error(`GET /openapi.json answered ${response.statusCode}: ${response.body.slice(0, 500)}`);
      const document = response.json();
      await mkdir(path.dirname(path.resolve(out)), { recursive: true });
      await writeFile(path.resolve(out), `${JSON.stringify(document, null, 2)}\n`);
    } finally {
      await app.close();
    }
  } finally {
    await deps.database.close();
  }
} catch (error) {
  console.error(`export-openapi: ${error instanceof Error ? error.message : String(error)}`);
  exitCode = 1;
} finally {
  await rm(dataDir, { recursive: true, force: true });
}
process.exitCode = exitCode;
