/**
 * The restriction lists answer synchronously while every step answers from
 * memory, and the same verdicts come as a promise once a step waits (a
 * route not cached, DNS): in list order, the first refusal decides, and a
 * step after it never runs.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SmtpdPolicy, type PolicyContext } from '../../../src/actors/smtpd/smtpd-policy.js';
import { SmtpdDns } from '../../../src/actors/smtpd/smtpd-dns.js';
import { readSmtpdSettings } from '../../../src/actors/smtpd/smtpd-settings.js';
import { MainConfig } from '../../../src/config/main-config.js';
import { Logger } from '../../../src/util/log.js';
import type { ResolvedAddress } from '../../../src/protocol/protocol.js';

const PARAMS = {
  myhostname: 'mx.test.example',
  mydestination: 'mx.test.example, localhost',
  mynetworks: '192.0.2.0/24',
  local_recipient_maps: '',
  relay_domains: 'relay.example',
  smtpd_relay_restrictions: 'permit_mynetworks, reject_unauth_destination',
};

const relayRoute: ResolvedAddress = { transport: 'smtp', nexthop: 'relay.example', recipient: 'u@relay.example', addressClass: 'relay' };

function policy(params: Record<string, string>, resolve?: (address: string) => ResolvedAddress | Promise<ResolvedAddress>): SmtpdPolicy {
  // DNS goes to a port nothing answers on: a step that asks it would wait, then fail.
  return new SmtpdPolicy(readSmtpdSettings(new MainConfig({ ...PARAMS, ...params }, '/')), '/', new SmtpdDns(['127.0.0.1:9']), new Logger('smtpd', 1), resolve);
}

const ctx = (recipient: string, clientAddr = '198.51.100.7'): PolicyContext => ({ clientName: 'unknown', clientAddr, helo: 'client.example', sender: 's@sender.example', recipient });

test('in-memory restrictions and a cached route answer at once, not as a promise', () => {
  const p = policy({}, () => relayRoute);
  const ok = p.checkRecipient(ctx('u@relay.example'));
  assert.ok(!(ok instanceof Promise));
  assert.equal(ok.reject, undefined);
  const refused = p.checkRecipient(ctx('u@elsewhere.example'));
  assert.ok(!(refused instanceof Promise));
  assert.equal(refused.reject?.message, '5.7.1 <u@elsewhere.example>: Relay access denied');
  assert.equal(refused.reason, 'relay_access_denied');
  const mine = p.checkRecipient(ctx('u@elsewhere.example', '192.0.2.9'));
  assert.ok(!(mine instanceof Promise));
  assert.equal(mine.reject, undefined);
});

test('a route that must be asked for makes the same verdict a promise', async () => {
  let asked = 0;
  const p = policy({ relay_recipient_maps: 'static:OK' }, async () => {
    asked++;
    return relayRoute;
  });
  const later = p.checkRecipient(ctx('u@relay.example'));
  assert.ok(later instanceof Promise);
  assert.equal((await later).reject, undefined);
  assert.equal(asked, 1);
});

test('a refusal ends the lists: the DNS step after it never runs; warn_if_reject only warns', async () => {
  const p = policy({ smtpd_recipient_restrictions: 'reject_non_fqdn_recipient, reject_unknown_recipient_domain' });
  const refused = p.checkRecipient(ctx('u@relay', '192.0.2.9'));
  assert.ok(!(refused instanceof Promise), 'refused before the DNS step');
  assert.match(refused.reject?.message ?? '', /need fully-qualified address/);

  const warned = policy({ smtpd_recipient_restrictions: 'warn_if_reject, reject_non_fqdn_recipient, permit' }).checkRecipient(ctx('u@relay', '192.0.2.9'));
  assert.ok(!(warned instanceof Promise));
  assert.equal(warned.reject, undefined);
  assert.equal(warned.warnings.length, 1);
  assert.match(warned.warnings[0].message, /need fully-qualified address/);
});
