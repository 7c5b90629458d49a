/**
 * reload with the real daemon: a session in progress finishes under the old
 * configuration, new sessions get the new one, and a broken configuration
 * is refused with a one-line error while the running one stays. At the
 * drain deadline a message already being queued gets its 250, never a 4xx.
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

/** One message a streaming session sent, and how it went. */
interface Sent {
  tag: string;
  accepted: boolean;
  /** The reply after the final dot ("000 ..." when the connection ended without one). */
  dotReply?: string;
}

/** Sends message after message on one kept-open session until the server ends it (or `stopAt`). */
async function stream(port: number, name: string, stopAt: number): Promise<Sent[]> {
  const sent: Sent[] = [];
  const c = await SourceConnection.open('127.0.0.1', port);
  if (!(await c.hello('client.test')).ok) return sent;
  for (let n = 0; c.ended === undefined && Date.now() < stopAt; n++) {
    const tag = `${name}-${n}`;
    const out = await c.sendMessage('stream@client.test', [`${tag}@remote.test`], { head: `Subject: ${tag}\r\n\r\nbody\r\n.\r\n` });
    const dot = out.errors.find((e) => e.stage === 'dot');
    sent.push({ tag, accepted: out.accepted, dotReply: out.reply ?? dot?.reply });
  }
  await c.quit();
  return sent;
}

test('at the drain deadline, a message already being queued gets its 250 and only then 421; none is both refused and delivered', async () => {
  const sink2 = await startSmtpSink();
  const d = await startDaemon({ params: { relayhost: `[127.0.0.1]:${sink2.port}`, supervisor_drain_timeout: '1s' } });
  try {
    const stopAt = Date.now() + 15_000;
    const sessions = Array.from({ length: 8 }, (_, i) => stream(d.port, `s${i}`, stopAt));
    await new Promise((r) => setTimeout(r, 300));
    const reload = await d.cli(['reload']);
    assert.equal(reload.code, 0, reload.stderr);
    const results = (await Promise.all(sessions)).flat();
    assert.ok(Date.now() < stopAt, 'the old sessions were ended at the drain deadline, not by the test');
    const accepted = results.filter((r) => r.accepted);
    assert.ok(accepted.length > 0);
    const delivered = (): Set<string> => new Set(sink2.messages.map((m) => m.rcptTo[0].split('@')[0]));
    await waitFor(() => accepted.every((r) => delivered().has(r.tag)), 60_000, 'every accepted message delivered');
    // whatever else was queued is delivered too; then nothing refused may be among the deliveries
    await waitFor(async () => (await d.cli(['queue', '--json'])).stdout.trim() === '', 60_000, 'an empty queue');
    const got = delivered();
    const refusedButQueued = results.filter((r) => !r.accepted && r.dotReply !== undefined && got.has(r.tag));
    assert.deepEqual(refusedButQueued, [], 'a client told 4xx (or cut off) after the dot for a message that was queued would send it twice');
  } finally {
    await d.stop();
    await sink2.close();
  }
});
