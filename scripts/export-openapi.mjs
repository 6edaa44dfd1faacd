#!/usr/bin/env node
// Writes the API's OpenAPI document to a file: `node scripts/export-openapi.mjs <out.json>`.
// It builds the compiled app (dist/, from `npm run build:server`) against a throwaway SQLite database in
// a temporary DATA_DIR (local development issuer, no jobs run), asks it for GET /openapi.json and closes
// it. The SDK's types are generated from this file at build time (see package.json "build").
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';

const out = process.argv[2];
if (!out) {
  console.error('usage: node scripts/export-openapi.mjs <out.json>');
  process.exit(2);
}

const dist = new URL('../dist/', import.meta.url);
const [{ buildApp }, { loadConfig }, { createRuntimeDeps }] = await Promise.all([
  import(new URL('app.js', dist).href),
  import(new URL('config.js', dist).href),
  import(new URL('deps.js', dist).href),
]);

const dataDir = mkdtempSync(path.join(tmpdir(), 'skd-openapi-'));
try {
  const config = loadConfig({ DATA_DIR: dataDir, DATABASE_URL: `sqlite:${path.join(dataDir, 'skaledata.db')}`, LOG_LEVEL: 'silent' });
  const deps = await createRuntimeDeps(config, { runJobs: false });
  try {
    const app = await buildApp(deps);
    try {
      const response = await app.inject({ method: 'GET', url: '/openapi.json' });
      if (response.statusCode !== 200) throw new Error(`GET /openapi.json answered ${response.statusCode}`);
      mkdirSync(path.dirname(path.resolve(out)), { recursive: true });
      writeFileSync(out, `${JSON.stringify(JSON.parse(response.body), null, 2)}\n`);
    } finally {
      await app.close();
    }
  } finally {
    await deps.database.close();
  }
} finally {
  rmSync(dataDir, { recursive: true, force: true });
}
