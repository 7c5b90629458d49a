/**
 * reload with the real daemon: a session in progress finishes under the old
 * configuration, new sessions get the new one, the old and the new smtpd
 * side by side never hand out one queue id twice, and a broken
 * configuration is refused with a one-line error while the running one stays.
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

/** The queue id in the Received header Postrider added (the first one). */
function receivedId(raw: Buffer): string | undefined {
  return /^Received: [^]*?\sid ([0-9A-Za-z]{12})\b/m.exec(raw.toString('latin1'))?.[1];
}

test('kept-open sessions on the draining old smtpd and on the new one get distinct queue ids, and every 250 reaches the next hop', { timeout: 180_000 }, async () => {
  const PER_SESSION = 400;
  const ownSink = await startSmtpSink();
  const d = await startDaemon({ params: { relayhost: `[127.0.0.1]:${ownSink.port}` } });
  try {
    const old = await SourceConnection.open('127.0.0.1', d.port);
    assert.equal((await old.hello('old.test')).ok, true);
    // The old smtpd drains: it keeps this session while the new one listens.
    const r = await d.cli(['reload']);
    assert.equal(r.code, 0, r.stderr);
    const fresh = await SourceConnection.open('127.0.0.1', d.port);
    assert.equal((await fresh.hello('new.test')).ok, true);
    const queued = new Map<string, string>();
    const refused: string[] = [];
    const run = async (c: SourceConnection, name: string): Promise<void> => {
      for (let i = 0; i < PER_SESSION; i++) {
        const tag = `${name}-${i}`;
        const out = await c.sendMessage(`${name}@client.test`, [`${tag}@remote.test`], { head: `Subject: ${tag}\r\n\r\nbody ${tag}\r\n.\r\n` });
        const id = out.accepted ? /queued as ([0-9A-Za-z]+)/.exec(out.reply ?? '')?.[1] : undefined;
        if (id) queued.set(tag, id);
        else refused.push(`${tag}: ${out.reply ?? out.errors.map((e) => e.reply).join(' / ')}`);
      }
    };
    await Promise.all([run(old, 'old'), run(fresh, 'new')]);
    await old.quit();
    await fresh.quit();
    assert.deepEqual(refused, [], 'every message got 250');
    const ids = [...queued.values()];
    assert.equal(new Set(ids).size, ids.length, `${ids.length - new Set(ids).size} queue ids handed out twice`);
    await waitFor(() => ownSink.messages.length >= queued.size, 120_000, `${queued.size} deliveries (have ${ownSink.messages.length})`);
    const delivered = new Map<string, string | undefined>();
    for (const m of ownSink.messages) delivered.set(m.rcptTo[0].split('@')[0], receivedId(m.raw));
    assert.equal(ownSink.messages.length, queued.size, 'each message delivered once');
    for (const [tag, id] of queued) assert.equal(delivered.get(tag), id, `${tag} reached the next hop with its queue id`);
  } finally {
    await d.stop();
    await ownSink.close();
  }
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
