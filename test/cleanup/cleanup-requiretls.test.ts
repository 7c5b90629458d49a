/**
 * cleanup and RFC 8689: REQUIRETLS from MAIL FROM is kept with the message;
 * a "TLS-Required: No" header (any case) is recorded when
 * tls_required_enable, and another value is logged and ignored, as Postfix.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cleanup } from '../../src/cleanup/cleanup.js';
import { logLines, makeCleanup, queued, smtpInput } from './cleanup-fixture.js';

let dir: string;
let on: Cleanup;
let off: Cleanup;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cleanup-rt-'));
  on = makeCleanup({}, dir);
  off = makeCleanup({ tls_required_enable: 'no' }, dir);
});

after(async () => {
  await on.close();
  await off.close();
  await rm(dir, { recursive: true, force: true });
});

test('REQUIRETLS is kept; TLS-Required: No is recorded; other values are logged and ignored; tls_required_enable = no ignores it', async () => {
  const a = queued(await on.process(smtpInput('Subject: a\r\n\r\nx\r\n', { requiretls: true })));
  assert.equal(a.requiretls, true);
  assert.equal(a.tlsRequiredNo, undefined);

  const b = queued(await on.process(smtpInput('Subject: b\r\nTLS-Required:  NO \r\n\r\nx\r\n')));
  assert.equal(b.tlsRequiredNo, true);
  assert.equal(b.requiretls, undefined);
  assert.match(Buffer.from(b.content).toString('latin1'), /\r\nTLS-Required:  NO \r\n/, 'the header stays in the message');

  const c = queued(await on.process(smtpInput('Subject: c\r\nTLS-Required: maybe\r\n\r\nx\r\n')));
  assert.equal(c.tlsRequiredNo, undefined);
  assert.ok(logLines.some((l) => l.includes("ignoring malformed header: 'TLS-Required: maybe'")), logLines.join('\n'));

  const d = queued(await off.process(smtpInput('Subject: d\r\nTLS-Required: No\r\n\r\nx\r\n')));
  assert.equal(d.tlsRequiredNo, undefined);
  // A body line is not a header.
  const e = queued(await on.process(smtpInput('Subject: e\r\n\r\nTLS-Required: No\r\n')));
  assert.equal(e.tlsRequiredNo, undefined);
});
