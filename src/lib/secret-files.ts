import { randomBytes } from 'node:crypto';
import { linkSync, mkdirSync, readFileSync, unlinkSync, writeFileSync } from 'node:fs';
import path from 'node:path';

/**
 * Reads a secret kept in the data folder, creating it on first use. The secret is written in full to a
 * private temporary file and then hard-linked into place: the link either appears complete or fails
 * because another process got there first, so two processes starting together agree on one value and
 * neither can read a half-written file. The file is readable by its owner only.
 */
export function loadOrCreateSecretFile(dataDir: string, name: string, create: () => string): string {
  mkdirSync(dataDir, { recursive: true, mode: 0o700 });
  const file = path.join(dataDir, name);
  const temporary = path.join(dataDir, `.${name}.${process.pid}.${randomBytes(6).toString('hex')}.tmp`);
  writeFileSync(temporary, create(), { flag: 'wx', mode: 0o600 });
  try {
    linkSync(temporary, file);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
  } finally {
    unlinkSync(temporary);
  }
  return readFileSync(file, 'utf8');
}
