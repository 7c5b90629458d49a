/** smtpd-session-limit: the open-file limit as /proc says it, and the session cap derived from it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { defaultSessionLimit, DESCRIPTOR_RESERVE, FALLBACK_SESSION_LIMIT, openFileLimit } from '../../../src/actors/smtpd/smtpd-session-limit.js';
import { readSmtpdSettings } from '../../../src/actors/smtpd/smtpd-settings.js';
import { MainConfig } from '../../../src/config/main-config.js';

test('openFileLimit reads the soft "Max open files" limit; unlimited or unreadable is undefined', () => {
  const dir = mkdtempSync(join(tmpdir(), 'limits-'));
  const file = join(dir, 'limits');
  writeFileSync(file, 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n');
  assert.equal(openFileLimit(file), 1024);
  writeFileSync(file, 'Max open files            unlimited            unlimited            files\n');
  assert.equal(openFileLimit(file), undefined);
  assert.equal(openFileLimit(join(dir, 'missing')), undefined);
});

test('the default cap leaves a reserve of descriptors and half the rest to each service', () => {
  assert.equal(defaultSessionLimit(1024), (1024 - DESCRIPTOR_RESERVE) / 2);
  assert.equal(defaultSessionLimit(65536), (65536 - 16384) / 2, 'a quarter of a large limit stays in reserve');
  assert.equal(defaultSessionLimit(100), 1, 'never 0 (which would mean no cap)');
  assert.equal(defaultSessionLimit(undefined), FALLBACK_SESSION_LIMIT);
  // Two services at the default never reach the reserve.
  for (const nofile of [512, 1024, 4096, 65536]) assert.ok(2 * defaultSessionLimit(nofile) <= nofile - DESCRIPTOR_RESERVE, String(nofile));
});

test('smtpd_session_limit: empty derives the cap from this process, a number is taken as is', () => {
  const derived = readSmtpdSettings(new MainConfig({}, '/')).sessionLimit;
  assert.equal(derived, defaultSessionLimit(openFileLimit()));
  assert.equal(readSmtpdSettings(new MainConfig({ smtpd_session_limit: '25' }, '/')).sessionLimit, 25);
  assert.equal(readSmtpdSettings(new MainConfig({ smtpd_session_limit: '0' }, '/')).sessionLimit, 0);
  assert.throws(() => readSmtpdSettings(new MainConfig({ smtpd_session_limit: 'lots' }, '/')), (e: { code?: string }) => e.code === 'ERR_CONFIG');
});
