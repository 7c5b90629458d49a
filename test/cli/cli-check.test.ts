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

test('check and start refuse smtpd_proxy_filter, naming file, line and parameter', async () => {
  const c = configDir('smtpd_proxy_filter = 127.0.0.1:10024\n', SMTPD);
  try {
    const check = await postrider(['-c', c.dir, 'check']);
    assert.equal(check.code, 1);
    assert.match(check.stderr, /^postrider: error: .*main\.cf, line 3: smtpd_proxy_filter is not supported by this version of Postrider; mail would not be filtered/m);
    const start = await postrider(['-c', c.dir, 'start-fg']);
    assert.equal(start.code, 1);
    assert.match(start.stderr, /smtpd_proxy_filter is not supported by this version of Postrider/);
  } finally {
    c.cleanup();
  }
});

test('check warns naming every policy server it cannot reach, by main.cf and by -o; one that listens draws nothing', async () => {
  const { createServer } = await import('node:net');
  const up = createServer((s) => s.destroy());
  await new Promise<void>((resolve) => up.listen(0, '127.0.0.1', resolve));
  const gone = createServer();
  await new Promise<void>((resolve) => gone.listen(0, '127.0.0.1', resolve));
  const upPort = (up.address() as { port: number }).port;
  const gonePort = (gone.address() as { port: number }).port;
  await new Promise<void>((resolve) => gone.close(() => resolve()));
  const c = configDir(
    `smtpd_recipient_restrictions = reject_unauth_destination, check_policy_service inet:127.0.0.1:${upPort}, check_policy_service inet:127.0.0.1:${gonePort}\n`,
    `${SMTPD}127.0.0.1:9 inet n - n - - smtpd\n  -o smtpd_client_restrictions=check_policy_service,unix:private/nobody\n`,
  );
  try {
    const check = await postrider(['-c', c.dir, 'check']);
    assert.equal(check.code, 0, check.stderr);
    assert.match(
      check.stderr,
      new RegExp(`^postrider: warning: .*main\\.cf, line 3: smtpd_recipient_restrictions: check_policy_service inet:127\\.0\\.0\\.1:${gonePort}: cannot connect: Connection refused; until it answers, every request gets the default action "451 4\\.3\\.5 Server configuration problem"$`, 'm'),
    );
    assert.match(check.stderr, /^postrider: warning: .*master\.cf, line 3: smtpd_client_restrictions: check_policy_service unix:private\/nobody: cannot connect: No such file or directory; until it answers, every request gets the default action "451 4\.3\.5 Server configuration problem"$/m);
    assert.ok(!check.stderr.includes(`:${upPort}:`), check.stderr);
  } finally {
    c.cleanup();
    up.close();
  }
});
