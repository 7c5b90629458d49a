/** `postrider check` and `start` refuse an open relay and an unsupported setting, each with one line naming it. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configDir, postrider } from './cli-harness.js';

const SMTPD = '127.0.0.1:0 inet n - n - - smtpd\ncleanup unix n - n - 0 cleanup\n';
const RELAY_TEXT =
  'in parameter smtpd_relay_restrictions or smtpd_recipient_restrictions, specify at least one working instance of: ' +
  'reject_unauth_destination, defer_unauth_destination, reject, defer, defer_if_permit or check_relay_domains';

test("check and start refuse an open relay (permit_mynetworks alone) with Postfix's text; the safety net lets both through to the next step", async () => {
  const c = configDir('smtpd_relay_restrictions = permit_mynetworks\n', SMTPD);
  try {
    const check = await postrider(['-c', c.dir, 'check']);
    assert.equal(check.code, 1);
    assert.ok(check.stderr.includes(`main.cf, line 3: ${RELAY_TEXT}\n`), check.stderr);
    const start = await postrider(['-c', c.dir, 'start-fg']);
    assert.equal(start.code, 1);
    assert.ok(start.stderr.includes(RELAY_TEXT), start.stderr);
    assert.match(start.stderr, /the configuration has errors; not started/);
    c.write('smtpd_relay_restrictions = permit_mynetworks, reject_unauth_destination\n', SMTPD);
    const fixed = await postrider(['-c', c.dir, 'check']);
    assert.equal(fixed.code, 0, fixed.stderr);
  } finally {
    c.cleanup();
  }
});

test('check and start refuse content_filter, naming file, line and parameter', async () => {
  const c = configDir('content_filter = amavis:[127.0.0.1]:10024\n', SMTPD);
  try {
    const check = await postrider(['-c', c.dir, 'check']);
    assert.equal(check.code, 1);
    assert.match(check.stderr, /^postrider: error: .*main\.cf, line 3: content_filter is not supported by this version of Postrider; mail would not be filtered/m);
    const start = await postrider(['-c', c.dir, 'start-fg']);
    assert.equal(start.code, 1);
    assert.match(start.stderr, /content_filter is not supported by this version of Postrider/);
  } finally {
    c.cleanup();
  }
});
