/**
 * reload with the real daemon: a session in progress finishes under the old
 * configuration, new sessions get the new one, and a broken configuration
 * is refused with a one-line error while the running one stays.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { sendMail, waitFor } from '../helpers/send-mail.js';
import { SourceConnection } from '../../perf/harness/source-connection.js';

let sink: SmtpSink;
let daemon: RunningDaemon;

before(async () => {
  sink = await startSmtpSink();
  daemon = await startDaemon({ params: { relayhost: `[127.0.0.1]:${sink.port}`, smtpd_banner: '$myhostname ESMTP before-reload' } });
});

after(async () => {
  await daemon?.stop();
  await sink?.close();
});

test('a session open across a reload finishes, and new sessions see the new configuration', async () => {
  const client = await SourceConnection.open('127.0.0.1', daemon.port);
  assert.equal((await client.hello('client.test')).ok, true);
  assert.match(await client.command('MAIL FROM:<open@client.test>'), /^250/);
  const mainCf = join(daemon.configDir, 'main.cf');
  writeFileSync(mainCf, readFileSync(mainCf, 'utf8').replace('before-reload', 'after-reload'));
  const r = await daemon.cli(['reload']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(await client.command('RCPT TO:<open@remote.test>'), /^250/);
  assert.match(await client.command('DATA'), /^354/);
  const reply = await client.command('Subject: across reload\r\n\r\nbody\r\n.');
  assert.match(reply, /^250 .*queued as/);
  await client.quit();
  await waitFor(() => sink.messages.some((m) => m.rcptTo.includes('open@remote.test')), 20_000, 'delivery of the open session');
  const { createConnection } = await import('node:net');
  const banner = await new Promise<string>((res, rej) => {
    const s = createConnection(daemon.port, '127.0.0.1');
    s.on('error', rej);
    s.once('data', (d) => {
      res(d.toString());
      s.destroy();
    });
  });
  assert.match(banner, /after-reload/);
});

test('a broken configuration is refused with a one-line error and the old one keeps running', async () => {
  appendFileSync(join(daemon.configDir, 'master.cf'), 'broken-line-with-too-few-fields inet n\n');
  const r = await daemon.cli(['reload']);
  assert.notEqual(r.code, 0);
  assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  assert.match(r.stderr, /master\.cf/);
  const sent = await sendMail(daemon.port, { from: 'still@client.test', to: ['still@remote.test'], raw: 'Subject: still\r\n\r\nrunning\r\n' });
  assert.match(sent.response, /^250 /);
  assert.equal((await daemon.cli(['status'])).code, 0);
});
