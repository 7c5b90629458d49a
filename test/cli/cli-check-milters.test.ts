/** `postrider check` on milter settings: a list it cannot parse is an error naming it; a milter that refuses is a warning. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { configDir, postrider } from './cli-harness.js';
import { freePort } from '../helpers/daemon.js';

const SMTPD = '127.0.0.1:0 inet n - n - - smtpd\ncleanup unix n - n - 0 cleanup\n';

test('check: an smtpd_milters value it cannot parse is an error naming the value; one that refuses connections is a warning', async () => {
  const bad = configDir('smtpd_milters = tcp:127.0.0.1\nnon_smtpd_milters = { unix:/run/x.sock, colour=blue }\n', SMTPD);
  try {
    const check = await postrider(['-c', bad.dir, 'check']);
    assert.equal(check.code, 1);
    assert.match(check.stderr, /^postrider: error: .*main\.cf, line 3: smtpd_milters: bad milter address "tcp:127\.0\.0\.1" \(need inet:host:port or unix:\/path\)$/m);
    assert.match(check.stderr, /^postrider: error: .*main\.cf, line 4: non_smtpd_milters: unknown milter setting "colour=blue" for unix:\/run\/x\.sock/m);
  } finally {
    bad.cleanup();
  }
  const port = await freePort();
  const down = configDir(`smtpd_milters = { inet:127.0.0.1:${port}, default_action=accept, connect_timeout=5s }\nmilter_default_action = quarantine\n`, SMTPD);
  try {
    const check = await postrider(['-c', down.dir, 'check']);
    assert.equal(check.code, 0, check.stderr);
    assert.match(check.stderr, new RegExp(`^postrider: warning: milter inet:127\\.0\\.0\\.1:${port}: cannot connect: ECONNREFUSED`, 'm'));
  } finally {
    down.cleanup();
  }
});

test('check: milter_default_action and milter_protocol take only Postfix\'s values', async () => {
  const c = configDir('milter_default_action = bounce\nmilter_protocol = 5\n', SMTPD);
  try {
    const check = await postrider(['-c', c.dir, 'check']);
    assert.equal(check.code, 1);
    assert.match(check.stderr, /milter_default_action = bounce: expected one of accept, reject, tempfail, quarantine/);
    assert.match(check.stderr, /milter_protocol = 5: expected one of 2, 3, 4, 6/);
  } finally {
    c.cleanup();
  }
});
