/**
 * Failure notices of REQUIRETLS mail (RFC 8689 section 5, Postfix's
 * requiretls_redact_dsn): the original's headers only, and the notice goes
 * without REQUIRETLS; with requiretls_redact_dsn = no the whole message and
 * REQUIRETLS stay. A "TLS-Required: No" message's notice carries the header.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MainConfig } from '../../../src/config/main-config.js';
import type { QueuedMessage } from '../../../src/store/store-types.js';
import { buildNotification } from '../../../src/actors/bounce/bounce-notification.js';

const ORIGINAL = Buffer.from('From: alice@example.org\r\nTo: bob@remote.test\r\nSubject: secret plans\r\n\r\nThe secret body.\r\n');

function message(extra: Partial<QueuedMessage> = {}): QueuedMessage {
  return {
    queueId: 'ORIG1234AB',
    arrivalTime: Date.now() - 1000,
    sender: 'alice@example.org',
    recipients: [{ address: 'bob@remote.test', state: 'bounced', attempts: 1 }],
    client: { name: 'client.example.org', addr: '192.0.2.1', protocol: 'ESMTPS' },
    hold: false,
    headerLength: ORIGINAL.indexOf('\r\n\r\n') + 4,
    size: ORIGINAL.length,
    location: { segment: 1, offset: 0, length: ORIGINAL.length },
    ...extra,
  };
}

function build(m: QueuedMessage, params: Record<string, string> = {}) {
  const config = new MainConfig({ myhostname: 'mx.example.test', ...params }, '/nonexistent');
  const reason = 'Sender requested REQUIRETLS, but no server was found that supports REQUIRETLS. The last attempted server was mx.remote.test[198.51.100.7]';
  const n = buildNotification({ message: m, content: ORIGINAL, kind: 'failure', config, queueId: 'NOTICE1', now: Date.now(), recipients: [{ index: 0, dsn: '5.7.30', reason }] });
  assert.ok(n);
  return { n, text: n.content.toString('latin1') };
}

test('a REQUIRETLS message bounces with its headers only, in a notice sent without REQUIRETLS', () => {
  const { n, text } = build(message({ requiretls: true }));
  assert.equal(n.requiretls, undefined);
  assert.match(text, /Status: 5\.7\.30/);
  assert.match(text, /Content-Type: text\/rfc822-headers/);
  assert.match(text, /Subject: secret plans/);
  assert.doesNotMatch(text, /The secret body/);
  assert.doesNotMatch(text, /TLS-Required/);
  // An ordinary message's failure notice returns the whole message.
  assert.match(build(message()).text, /The secret body/);
});

test('requiretls_redact_dsn = no: the whole message, and the notice keeps REQUIRETLS', () => {
  const { n, text } = build(message({ requiretls: true }), { requiretls_redact_dsn: 'no' });
  assert.equal(n.requiretls, true);
  assert.match(text, /Content-Type: message\/rfc822/);
  assert.match(text, /The secret body/);
});

test('a "TLS-Required: No" message: its notice carries the header, unless REQUIRETLS or tls_required_enable = no', () => {
  const head = (t: string) => t.slice(0, t.indexOf('\r\n\r\n'));
  assert.match(head(build(message({ tlsRequiredNo: true })).text), /^TLS-Required: no$/m);
  assert.doesNotMatch(head(build(message({ tlsRequiredNo: true, requiretls: true })).text), /TLS-Required/);
  assert.doesNotMatch(head(build(message({ tlsRequiredNo: true }), { tls_required_enable: 'no' }).text), /TLS-Required/);
});
