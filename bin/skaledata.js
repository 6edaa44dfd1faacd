#!/usr/bin/env node
// The `skaledata` command: runs the compiled CLI (npm start builds it).
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  console.error('skaledata is not built yet: run `npm run build` (or `npm start`) in the repository first.');
  process.exit(2);
}
const { runCli } = await import(cli.href);
await runCli(process.argv.slice(2));
