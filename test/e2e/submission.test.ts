/**
 * The submission service through the real daemon: STARTTLS with a
 * certificate the test makes, AUTH against a table of scrypt hashes written
 * by `postrider saslpasswd`, relay only for authenticated clients.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startDaemon, freePort, type RunningDaemon } from '../helpers/daemon.js';
import { sendMail, waitFor } from '../helpers/send-mail.js';
import { makeTestCert } from '../helpers/tls-cert.js';
import { makeSaslTable } from '../helpers/sasl-table.js';
import { readFileSync } from 'node:fs';

let sink: SmtpSink;
let daemon: RunningDaemon;
let submissionPort: number;

before(async () => {
  sink = await startSmtpSink();
  const cert = makeTestCert('localhost');
  const table = await makeSaslTable('alice@client.test', 'correct horse');
  submissionPort = await freePort();
  daemon = await startDaemon({
    params: {
      relayhost: `[127.0.0.1]:${sink.port}`,
      smtpd_tls_cert_file: cert.certFile,
      smtpd_tls_key_file: cert.keyFile,
      smtpd_sasl_password_maps: `texthash:${table}`,
      // The test client is on loopback: take it out of mynetworks so that only AUTH permits relaying.
      mynetworks: '192.0.2.0/24',
    },
    masterExtra: [
      `127.0.0.1:${submissionPort} inet n - n - - smtpd`,
      '  -o smtpd_sasl_auth_enable=yes',
      '  -o smtpd_tls_security_level=encrypt',
      '  -o smtpd_relay_restrictions=permit_sasl_authenticated,reject',
    ],
  });
});

after(async () => {
  await daemon?.stop();
  await sink?.close();
});

test('the secret is stored as an scrypt hash, never in clear', () => {
  const sasl = readFileSync(daemon.configDir + '/main.cf', 'utf8').match(/smtpd_sasl_password_maps = texthash:(.*)/)![1];
  const text = readFileSync(sasl, 'utf8');
  assert.match(text, /^alice@client\.test scrypt\$/m);
  assert.ok(!text.includes('correct horse'));
});

test('AUTH over STARTTLS relays; a wrong secret and no AUTH are refused', async () => {
  const tls = { rejectUnauthorized: false };
  const ok = await sendMail(submissionPort, { from: 'alice@client.test', to: ['friend@remote.test'], raw: 'Subject: submitted\r\n\r\nhi\r\n' }, { tls, auth: { user: 'alice@client.test', pass: 'correct horse' } });
  assert.match(ok.response, /^250 /);
  await waitFor(() => sink.messages.some((m) => m.rcptTo.includes('friend@remote.test')), 20_000, 'relay of submitted mail');
  const received = sink.messages.find((m) => m.rcptTo.includes('friend@remote.test'))!.raw.toString();
  assert.match(received, /with ESMTPSA id/);
  await assert.rejects(
    sendMail(submissionPort, { from: 'alice@client.test', to: ['friend@remote.test'], raw: 'Subject: x\r\n\r\nx\r\n' }, { tls, auth: { user: 'alice@client.test', pass: 'wrong' } }),
    /535/,
  );
  await assert.rejects(
    sendMail(submissionPort, { from: 'alice@client.test', to: ['friend@remote.test'], raw: 'Subject: x\r\n\r\nx\r\n' }, { tls }),
    /554 5\.7\.1|Relay access denied|5\.7\.1/,
  );
  const log = readFileSync(daemon.logFile, 'utf8');
  assert.ok(!log.includes('correct horse') && !log.includes('wrong'), 'secrets are never logged');
});

test('the encrypt level refuses mail before STARTTLS', async () => {
  await assert.rejects(
    sendMail(submissionPort, { from: 'a@client.test', to: ['b@remote.test'], raw: 'Subject: x\r\n\r\nx\r\n' }),
    /530 5\.7\.0/,
  );
});
