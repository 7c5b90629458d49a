/** parameters: computed defaults, what a per-transport name means, and when a value is the default. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { rmSync } from 'node:fs';
import type { NetworkInterfaceInfo } from 'node:os';
import { effectOf, mynetworksForStyle, sameAsDefault } from '../../src/config/parameters.js';
import { loadConfig } from '../../src/config/load-config.js';
import { confDir } from './conf-dir.js';

const IFACES: NodeJS.Dict<NetworkInterfaceInfo[]> = {
  lo: [
    { address: '127.0.0.1', netmask: '255.0.0.0', family: 'IPv4', mac: '00:00:00:00:00:00', internal: true, cidr: '127.0.0.1/8' },
    { address: '::1', netmask: 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff', family: 'IPv6', mac: '00:00:00:00:00:00', internal: true, cidr: '::1/128', scopeid: 0 },
  ],
  eth0: [
    { address: '172.20.3.4', netmask: '255.255.0.0', family: 'IPv4', mac: '02:00:00:00:00:01', internal: false, cidr: '172.20.3.4/16' },
    { address: '2001:db8:1:2::5', netmask: 'ffff:ffff:ffff:ffff::', family: 'IPv6', mac: '02:00:00:00:00:01', internal: false, cidr: '2001:db8:1:2::5/64', scopeid: 0 },
  ],
};

test('mynetworks_style: host trusts loopback; subnet the networks of every interface; class their class A/B/C networks', () => {
  assert.equal(mynetworksForStyle('host', IFACES), '127.0.0.0/8 [::ffff:127.0.0.0]/104 [::1]/128');
  assert.equal(mynetworksForStyle('subnet', IFACES), '127.0.0.0/8 [::1]/128 172.20.0.0/16 [2001:db8:1:2::]/64');
  assert.equal(mynetworksForStyle('class', IFACES), '127.0.0.0/8 [::1]/128 172.20.0.0/16 [2001:db8:1:2::]/64');
  const c = { ...IFACES, eth0: [{ ...IFACES.eth0![0], address: '10.1.2.3', cidr: '10.1.2.3/24' }] };
  assert.equal(mynetworksForStyle('subnet', c), '127.0.0.0/8 [::1]/128 10.1.2.0/24');
  assert.equal(mynetworksForStyle('class', c), '127.0.0.0/8 [::1]/128 10.0.0.0/8');
});

test('mynetworks follows mynetworks_style when main.cf does not set it, and its dependants follow', () => {
  const dir = confDir('mynetworks_style = subnet\n');
  const set = confDir('mynetworks_style = subnet\nmynetworks = 192.0.2.0/24\n');
  try {
    const l = loadConfig(dir);
    assert.equal(l.params.mynetworks, mynetworksForStyle('subnet'));
    assert.match(l.params.mynetworks, /^127\.0\.0\.0\/8\b/);
    assert.equal(l.params.smtpd_client_event_limit_exceptions, l.params.mynetworks);
    assert.equal(loadConfig(set).params.mynetworks, '192.0.2.0/24');
  } finally {
    rmSync(dir, { recursive: true });
    rmSync(set, { recursive: true });
  }
});

test('$mail_name, $mail_version and $process_name expand: name and version in a banner, the program per master.cf service', () => {
  const dir = confDir('mail_name = MailHub\nsmtpd_banner = $myhostname ESMTP $mail_name $mail_version\n', 'cleanup unix n - n - 0 cleanup\nrelay unix - - n - - smtp\n  -o syslog_name=postrider/$process_name\n');
  try {
    const l = loadConfig(dir);
    assert.match(l.params.smtpd_banner, / ESMTP MailHub \d+\.\d+\.\d+$/);
    assert.equal(l.master.find((s) => s.name === 'relay')?.overrides.syslog_name, 'postrider/smtp');
  } finally {
    rmSync(dir, { recursive: true });
  }
});

test('a per-transport name takes its suffix\'s effect; sameAsDefault compares values as their kind reads them', () => {
  assert.equal(effectOf('relay_destination_concurrency_limit')?.effect, 'effective');
  assert.equal(effectOf('my-pipe_destination_rate_delay')?.effect, 'refused');
  assert.equal(effectOf('smtp_delivery_slot_cost')?.effect, 'cosmetic');
  assert.equal(effectOf('lmtp_connect_timeout')?.effect, 'cosmetic');
  assert.equal(effectOf('no_such_parameter'), undefined);
  assert.equal(sameAsDefault({ default: '0s', kind: 'time' }, '0'), true);
  assert.equal(sameAsDefault({ default: '0s', kind: 'time' }, '1s'), false);
  assert.equal(sameAsDefault({ default: 'no', kind: 'bool' }, 'off'), true);
  assert.equal(sameAsDefault({ default: 'yes', kind: 'bool' }, 'no'), false);
  assert.equal(sameAsDefault({ default: '', kind: 'list' }, ' '), true);
  assert.equal(sameAsDefault({ default: '!SSLv2, !SSLv3', kind: 'list' }, '!SSLv2 !SSLv3'), true);
  assert.equal(sameAsDefault({ default: '', kind: 'string' }, 'amavis:[127.0.0.1]:10024'), false);
});
