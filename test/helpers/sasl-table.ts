/**
 * sasl-table: a SASL password table made with `postrider saslpasswd`, as an
 * admin makes one, in a temporary directory; returns its path.
 */
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runCli } from './daemon.js';

export async function makeSaslTable(user: string, secret: string): Promise<string> {
  const dir = mkdtempSync(join(tmpdir(), 'postrider-sasl-'));
  const table = join(dir, 'sasl_passwd');
  writeFileSync(table, '');
  const added = await runCli(dir, ['saslpasswd', table, user], `${secret}\n`);
  assert.equal(added.code, 0, added.stderr);
  return table;
}
