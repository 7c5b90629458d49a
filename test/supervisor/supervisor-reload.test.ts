/** supervisor-reload's check of a new configuration, before anything is replaced. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { ConfigProblem } from '../../src/config/config-types.js';
import type { SupervisorConfig } from '../../src/supervisor/role-registry.js';
import { refuseInvalid } from '../../src/supervisor/supervisor-reload.js';

function configWith(problems: ConfigProblem[]): SupervisorConfig {
  return { dir: '/etc/postrider', params: {}, master: [], problems };
}

test('warnings alone do not refuse a reload', () => {
  assert.doesNotThrow(() => refuseInvalid(configWith([{ severity: 'warning', file: 'main.cf', line: 2, message: 'unused parameter: foo=bar' }])));
});

test('errors refuse it with ERR_CONFIG_INVALID, naming the first one by file and line and counting the rest', () => {
  const problems: ConfigProblem[] = [
    { severity: 'warning', file: 'main.cf', line: 1, message: 'unused parameter' },
    { severity: 'error', file: 'main.cf', line: 3, message: 'bad value' },
    { severity: 'error', file: 'master.cf', line: 0, message: 'no smtpd service' },
  ];
  assert.throws(() => refuseInvalid(configWith(problems)), { code: 'ERR_CONFIG_INVALID', message: 'reload refused: main.cf, line 3: bad value (and 1 more)' });
  assert.throws(() => refuseInvalid(configWith(problems.slice(2))), { code: 'ERR_CONFIG_INVALID', message: 'reload refused: master.cf: no smtpd service' });
});
