/** smtpd-settings: every value read through MainConfig, defaults from the parameter table. */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readSmtpdSettings } from '../../../src/actors/smtpd/smtpd-settings.js';
import { withParameterDefaults } from '../../../src/config/parameter-defaults.js';
import { loadConfig, mainConfigOf } from '../../../src/config/load-config.js';
import { MainConfig } from '../../../src/config/main-config.js';

let dir: string;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'smtpd-settings-'));
});

after(async () => {
  await rm(dir, { recursive: true, force: true });
});

test('a partial record reads Postfix\'s defaults, expanded over the record', () => {
  const s = readSmtpdSettings(new MainConfig({ myhostname: 'mx.a.example', mynetworks: '10.0.0.0/8' }, dir));
  assert.equal(s.banner, 'mx.a.example ESMTP Postrider');
  assert.deepEqual(s.mydestination, ['mx.a.example', 'localhost.a.example', 'localhost']);
  assert.deepEqual(s.eventLimitExceptions, ['10.0.0.0/8']);
  assert.deepEqual(s.bareNewlineExclusions, ['10.0.0.0/8']);
  assert.deepEqual(s.relayRestrictions, ['permit_mynetworks', 'permit_sasl_authenticated', 'defer_unauth_destination']);
  assert.equal(s.messageSizeLimit, 10240000);
  assert.equal(s.recipientLimit, 1000);
  assert.equal(s.timeoutMs, 300000);
  assert.equal(s.hardErrorLimit, 20);
  assert.equal(s.errorSleepMs, 1000);
  assert.equal(s.greetWaitMs, 0);
  assert.equal(s.rateTimeUnitMs, 60000);
  assert.equal(s.bareNewline, 'normalize');
  assert.equal(s.tlsLevel, 'none');
  assert.equal(s.tlsAuthOnly, true);
  assert.equal(s.smtputf8, true);
  assert.deepEqual(s.codes, {
    reject: 554, defer: 450, accessReject: 554, accessDefer: 450, relayReject: 554,
    unknownAddress: 450, nonFqdn: 504, invalidHostname: 501, rbl: 554, unknownVirtualMailbox: 550,
    unknownVirtualAlias: 550, unknownLocalRecipient: 550, unknownRelayRecipient: 550,
  });
});

test('defaults follow the parameters they name: virtual domains, the TLS key, stress', () => {
  const s = readSmtpdSettings(new MainConfig({
    myhostname: 'mx.a.example',
    virtual_mailbox_maps: 'texthash:/nonexistent/mailboxes',
    smtpd_tls_cert_file: '/etc/cert.pem',
    stress: 'yes',
  }, dir));
  assert.deepEqual(s.virtualMailboxDomains, ['texthash:/nonexistent/mailboxes']);
  assert.deepEqual(s.virtualAliasDomains, []);
  assert.equal(s.tlsKeyFile, '/etc/cert.pem');
  assert.equal(s.timeoutMs, 10000);
  assert.equal(s.hardErrorLimit, 1);
});

test('an empty number, flag or time takes its default; an empty list stays empty', () => {
  const s = readSmtpdSettings(new MainConfig({
    myhostname: 'mx.a.example', message_size_limit: ' ', smtpd_tls_auth_only: '', smtpd_timeout: '', mynetworks: '', mail_name: '',
  }, dir));
  assert.equal(s.messageSizeLimit, 10240000);
  assert.equal(s.tlsAuthOnly, true);
  assert.equal(s.timeoutMs, 300000);
  assert.equal(s.banner, 'mx.a.example ESMTP Postrider');
  assert.deepEqual(s.mynetworks, []);
  assert.deepEqual(s.eventLimitExceptions, []);
});

test('values in the record win, and a "$" in them stays literal', () => {
  const s = readSmtpdSettings(new MainConfig({ myhostname: 'mx.a.example', mail_name: 'Cost$aver', smtpd_recipient_limit: '7', reject_code: '550' }, dir));
  assert.equal(s.banner, 'mx.a.example ESMTP Cost$aver');
  assert.equal(s.recipientLimit, 7);
  assert.equal(s.codes.reject, 550);
});

test('a loaded configuration and a partial record give the same settings', async () => {
  const conf = await mkdtemp(join(dir, 'conf-'));
  // mydomain is set: the loader computes its default from the host's name, not from main.cf's myhostname.
  await writeFile(join(conf, 'main.cf'), 'myhostname = mx.b.example\nmydomain = b.example\nmessage_size_limit = 2048\n');
  await writeFile(join(conf, 'master.cf'), 'smtp inet n - n - - smtpd\n');
  const loaded = readSmtpdSettings(mainConfigOf(loadConfig(conf)));
  const partial = readSmtpdSettings(new MainConfig({ myhostname: 'mx.b.example', message_size_limit: '2048' }, conf));
  assert.deepEqual(loaded, partial);
  assert.equal(loaded.messageSizeLimit, 2048);
});

test('a full record is used as it is; a malformed value throws ERR_CONFIG naming it', () => {
  const full = new MainConfig({ myhostname: 'h.example', message_size_limit: '1' }, dir);
  assert.equal(withParameterDefaults(full, ['myhostname', 'message_size_limit']), full);
  assert.throws(() => readSmtpdSettings(new MainConfig({ myhostname: 'h.example', smtpd_recipient_limit: 'lots' }, dir)), {
    code: 'ERR_CONFIG',
    message: /smtpd_recipient_limit/,
  });
});
