/**
 * check and smtp_requiretls_policy: one of Postfix's three words is taken;
 * Postfix 3.11's lookup-table form is refused with a one-line error rather
 * than half read.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { loadConfig } from '../../src/config/load-config.js';
import { checkConfig } from '../../src/config/check-config.js';
import { confDir } from './conf-dir.js';

test('smtp_requiretls_policy: the three words pass, a lookup table is refused', () => {
  for (const word of ['enforce', 'opportunistic+starttls', 'opportunistic']) {
    const dir = confDir(`smtp_requiretls_policy = ${word}\nrequiretls_enable = no\ntls_required_enable = no\nrequiretls_redact_dsn = no\n`);
    try {
      assert.deepEqual(checkConfig(loadConfig(dir)), [], word);
    } finally {
      rmSync(dir, { recursive: true });
    }
  }
  const dir = confDir('smtp_requiretls_policy = inline:{ { localhost = opportunistic } } enforce\n');
  try {
    const problems = checkConfig(loadConfig(dir));
    assert.equal(problems.length, 1);
    assert.match(problems[0].message, /smtp_requiretls_policy = inline:.*: expected one of enforce, opportunistic\+starttls, opportunistic/);
  } finally {
    rmSync(dir, { recursive: true });
  }
});
