/** mta-under-test: the daemon a benchmark measures runs the shipped master.cf's unix services, not a test's. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { shippedUnixServices } from '../../perf/harness/mta-under-test.js';
import { templateDir } from '../../src/cli/package-info.js';

test('the shipped unix services, each on one line with its -o options, and no inet listener', () => {
  const shipped = readFileSync(join(templateDir(), 'master.cf'), 'utf8');
  const lines = shippedUnixServices().split('\n');
  const services = lines.map((l) => l.split(/\s+/));
  assert.ok(services.length > 5, 'the unix services are there');
  assert.ok(services.every((f) => f[1] === 'unix'), 'no inet service');
  const smtp = services.find((f) => f[0] === 'smtp');
  assert.deepEqual(smtp, ['smtp', 'unix', '-', '-', 'n', '-', '-', 'smtp'], 'smtp as shipped: maxproc "-"');
  // A service keeps its -o options, and the shipped file's inet services had some too.
  const relay = lines.find((l) => l.startsWith('relay '));
  assert.match(relay ?? '', /^relay\s+unix\s.* -o syslog_name=/);
  assert.ok(shipped.includes('inet') && !lines.some((l) => l.includes('smtpd_sasl_auth_enable')), 'the submission listener\'s -o lines are left out with it');
});
