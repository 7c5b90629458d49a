/** compatibility_level: Postfix 3.7's backwards-compatible defaults for what main.cf leaves unset, over real configuration files. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import { loadConfig, mainConfigOf } from '../../src/config/load-config.js';
import { checkConfig } from '../../src/config/check-config.js';
import { parseCompatibilityLevel } from '../../src/config/compatibility-level.js';
import { mynetworksForStyle } from '../../src/config/parameters.js';
import { confDir } from './conf-dir.js';

function loaded(main: string): { values: (name: string) => string; problems: string[] } {
  const dir = confDir(main);
  try {
    const l = loadConfig(dir);
    const c = mainConfigOf(l);
    return { values: (name) => c.get(name), problems: checkConfig(l).map((p) => `${p.severity} ${p.line} ${p.message}`) };
  } finally {
    rmSync(dir, { recursive: true });
  }
}

test('compatibility_level below 1 and 2 switches the defaults of unset parameters as Postfix 3.7, each named in a warning', () => {
  const current = loaded('mydestination = a.example, localhost\n');
  assert.equal(current.values('compatibility_level'), '3.6');
  assert.deepEqual([current.values('append_dot_mydomain'), current.values('smtputf8_enable'), current.values('relay_domains'), current.values('mynetworks_style')], ['no', 'yes', '', 'host']);
  assert.deepEqual(current.problems, []);

  const zero = loaded('compatibility_level = 0\nmydestination = a.example, localhost\n');
  assert.deepEqual([zero.values('append_dot_mydomain'), zero.values('smtputf8_enable'), zero.values('relay_domains'), zero.values('fast_flush_domains'), zero.values('mynetworks_style')], ['yes', 'no', 'a.example, localhost', 'a.example, localhost', 'subnet']);
  assert.equal(zero.values('mynetworks'), mynetworksForStyle('subnet'), 'mynetworks follows the subnet style');
  assert.deepEqual(zero.problems, [
    'warning 1 compatibility_level = 0: using backwards-compatible default setting append_dot_mydomain=yes',
    'warning 1 compatibility_level = 0: using backwards-compatible default setting smtputf8_enable=no',
    'warning 1 compatibility_level = 0: using backwards-compatible default setting relay_domains=$mydestination',
    'warning 1 compatibility_level = 0: using backwards-compatible default setting mynetworks_style=subnet',
    'warning 1 compatibility_level = 0: Postfix would use "smtpd_relay_restrictions = (empty)" and relay for any client; Postrider keeps permit_mynetworks, permit_sasl_authenticated, defer_unauth_destination (set smtpd_relay_restrictions to choose)',
  ]);

  // A setting in main.cf stays; level 1 switches only the level-2 defaults; mynetworks set keeps mynetworks_style's default.
  const one = loaded('compatibility_level = 1\nrelay_domains = r.example\nmynetworks = 192.0.2.0/24\n');
  assert.deepEqual([one.values('append_dot_mydomain'), one.values('smtputf8_enable'), one.values('relay_domains'), one.values('mynetworks_style')], ['no', 'yes', 'r.example', 'host']);
  assert.deepEqual(one.problems, []);

  assert.deepEqual(loaded('compatibility_level = 2\n').problems, []);
  assert.deepEqual(loaded('compatibility_level = three\n').problems, ['error 1 compatibility_level = three: expected a level such as 2 or 3.6']);
  assert.deepEqual(parseCompatibilityLevel('3.6.1'), [3, 6, 1]);
  assert.equal(parseCompatibilityLevel('3.x'), undefined);
});
