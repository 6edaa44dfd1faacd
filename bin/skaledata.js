#!/usr/bin/env node
// The `skaledata` command: runs the compiled CLI (npm start builds it), on a Node.js it supports.
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { requireSupportedNode } from './node-support.js';

requireSupportedNode();
const cli = new URL('../dist/cli.js', import.meta.url);
if (!existsSync(fileURLToPath(cli))) {
  console.error('skaledata is not built yet: run `npm run build` (or `npm start`) in the repository first.');
  process.exit(2);
}
const { runCli } = await import(cli.href);
await runCli(process.argv.slice(2));
