/**
 * End to end through the real daemon: mail from mynetworks is DKIM-signed
 * once, before the queue (a delivery that is deferred and retried carries
 * the same single signature), and arrives at the next hop verifiable by
 * python3-dkim and by mailauth; the Authentication-Results header records
 * what smtpd verified, with DNS from dns_resolver_servers.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { dkimVerify } from 'mailauth';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { sendMail, waitFor } from '../helpers/send-mail.js';
import { startDnsServer, type TestDnsServer } from '../helpers/dns-server.js';
import { dkimpySkip, dkimpyVerify, rsaKey, type TestKey } from '../helpers/dkim-tools.js';

let sink: SmtpSink;
let daemon: RunningDaemon;
let dns: TestDnsServer;
let key: TestKey;
let deferred = 0;

before(async () => {
  key = rsaKey(2048);
  const keys = mkdtempSync(join(tmpdir(), 'e2e-dkim-'));
  writeFileSync(join(keys, 'rsa.pem'), key.pem);
  writeFileSync(join(keys, 'keytable'), `mail._domainkey.client.test client.test:mail:${join(keys, 'rsa.pem')}\n`);
  writeFileSync(join(keys, 'signingtable'), 'client.test mail._domainkey.client.test\n');
  dns = await startDnsServer({
    'client.test': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] },
    '_dmarc.client.test': { TXT: ['v=DMARC1; p=reject'] },
    'mail._domainkey.client.test': { TXT: [key.record] },
  });
  sink = await startSmtpSink({
    // The first delivery attempt is deferred: the retry must carry the same message.
    rcpt: () => (deferred++ < 1 ? { code: 451, message: '4.3.2 try again later' } : null),
  });
  daemon = await startDaemon({
    params: {
      relayhost: `[127.0.0.1]:${sink.port}`,
      dkim_key_table: `texthash:${join(keys, 'keytable')}`,
      dkim_signing_table: `texthash:${join(keys, 'signingtable')}`,
      smtpd_authentication_results: 'yes',
      dns_resolver_servers: `${dns.address}:${dns.port}`,
      minimal_backoff_time: '1s',
      maximal_backoff_time: '2s',
      queue_run_delay: '1s',
    },
  });
});

after(async () => {
  await daemon?.stop();
  await sink?.close();
  await dns?.close();
});

test('mail from mynetworks is signed once before the queue and verifies at the next hop after a retry; Authentication-Results records the checks', { skip: dkimpySkip }, async () => {
  const raw = 'From: Alice <a@client.test>\r\nTo: b@remote.test\r\nSubject: signed end to end\r\nDate: Sat, 28 Nov 2026 20:31:07 +0000\r\nMessage-ID: <e2e.1@client.test>\r\n\r\nHello.\r\n';
  const r = await sendMail(daemon.port, { from: 'a@client.test', to: ['b@remote.test'], raw });
  assert.match(r.response, /^250 2\.0\.0 Ok: queued as/);
  await waitFor(() => sink.messages.some((m) => m.rcptTo.includes('b@remote.test')), 30_000, 'delivery after the retry');
  assert.ok(deferred >= 2, 'the first attempt was deferred');
  const got = sink.messages.find((m) => m.rcptTo.includes('b@remote.test'))!.raw;
  const text = got.toString();
  assert.equal(text.match(/^DKIM-Signature:/gm)?.length, 1, 'signed once');
  assert.match(text, /^DKIM-Signature: v=1; a=rsa-sha256; c=relaxed\/relaxed; d=client\.test;/);
  assert.equal(dkimpyVerify(got, { 'mail._domainkey.client.test': key.record }), true);
  const verdict = await dkimVerify(got, { resolver: (async (name: string) => (name === 'mail._domainkey.client.test' ? [[key.record]] : Promise.reject(Object.assign(new Error('none'), { code: 'ENOTFOUND' })))) as never });
  assert.equal(verdict.results[0].status.result, 'pass');
  const ar = /^Authentication-Results:((?:[^\r]|\r\n[ \t])*)/m.exec(text)![1].replace(/\r\n[ \t]*/g, ' ');
  assert.match(ar, /^ \S+; dkim=none .*spf=pass .*smtp\.mailfrom=a@client\.test.*dmarc=pass/);
  assert.match(daemon.log(), new RegExp(`${r.queueId}: DKIM-Signature field added \\(s=mail, d=client\\.test\\)`));
});
