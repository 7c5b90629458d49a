/**
 * No lost mail, with the queue in two shards: a message that got 250 survives a SIGKILL of the whole
 * daemon, and deliveries survive the death of the smtp and qmgr actors in
 * the middle of the work (duplicates limited to what was in flight).
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { sendMail, waitFor } from '../helpers/send-mail.js';

let sink: SmtpSink;
let daemon: RunningDaemon;
let refuse = true;

before(async () => {
  sink = await startSmtpSink({
    rcpt: (to) => {
      if (to.startsWith('gone@')) return { code: 550, message: '5.1.1 <' + to + '>: no such user' };
      return refuse && to.startsWith('held@') ? { code: 451, message: '4.3.2 not yet' } : null;
    },
  });
  // Two queue shards: every promise here holds for the sharded store.
  daemon = await startDaemon({ params: { relayhost: `[127.0.0.1]:${sink.port}`, queue_shard_count: '2' } });
});

after(async () => {
  await daemon?.stop();
  await sink?.close();
});

function delivered(to: string, subject: string): number {
  return sink.messages.filter((m) => !m.refused && m.rcptTo.includes(to) && m.raw.includes(`Subject: ${subject}\r\n`)).length;
}

test('a message that got 250 survives a SIGKILL of the whole daemon right after it', async () => {
  const r = await sendMail(daemon.port, { from: 's@client.test', to: ['held@remote.test'], raw: 'Subject: survive\r\n\r\nkeep me\r\n' });
  assert.match(r.response, /^250 /);
  const code = await daemon.kill('SIGKILL');
  assert.equal(code, null);
  assert.equal(delivered('held@remote.test', 'survive'), 0);
  refuse = false;
  await daemon.restart();
  await waitFor(() => delivered('held@remote.test', 'survive') === 1, 30_000, 'delivery after restart');
});

/**
 * Sends n messages named by `tag`, injects `fault` into an actor after the
 * `at`-th, waits until every one is delivered; returns the duplicates.
 */
async function sendThroughFault(tag: string, n: number, at: number, fault: string[]): Promise<number> {
  const sends = [];
  for (let i = 0; i < n; i++) {
    sends.push(sendMail(daemon.port, { from: 's@client.test', to: [`${tag}${i}@remote.test`], raw: `Subject: ${tag} ${i}\r\n\r\nbody ${i}\r\n` }));
    if (i === at) {
      const f = await daemon.cli(['fault', ...fault]);
      assert.equal(f.code, 0, f.stderr);
    }
  }
  await Promise.all(sends);
  const copies = (i: number): number => delivered(`${tag}${i}@remote.test`, `${tag} ${i}`);
  await waitFor(() => Array.from({ length: n }, (_, i) => copies(i)).every((c) => c >= 1), 40_000, 'every message delivered');
  return Array.from({ length: n }, (_, i) => copies(i) - 1).reduce((a, b) => a + b, 0);
}

test('killing the smtp actor in mid-delivery loses nothing', async () => {
  const dupes = await sendThroughFault('smtpkill', 30, 10, ['smtp', '1', 'exit']);
  assert.ok(dupes <= 20, `duplicates (${dupes}) limited to what was in flight`);
});

test('killing the qmgr actor loses nothing', async () => {
  await sendThroughFault('qkill', 20, 5, ['qmgr', '1', 'throw']);
  const status = JSON.parse((await daemon.cli(['status', '--json'])).stdout);
  const qmgr = status.actors.find((a: { role: string }) => a.role === 'qmgr');
  assert.ok(qmgr.restarts >= 1, 'qmgr was restarted');
});

test('a failure notice is not lost when the bounce actor dies as the bounce happens', async () => {
  // bounce starts on demand: a first notice brings its thread up, the fault then ends it.
  const warm = await sendMail(daemon.port, { from: 'warm@client.test', to: ['gone@remote.test'], raw: 'Subject: wakes bounce\r\n\r\nx\r\n' });
  assert.match(warm.response, /^250 /);
  await waitFor(() => sink.messages.some((m) => m.mailFrom === '' && m.rcptTo.includes('warm@client.test')), 30_000, 'the first notice');
  const f = await daemon.cli(['fault', 'bounce', '1', 'exit']);
  assert.equal(f.code, 0, f.stderr);
  const r = await sendMail(daemon.port, { from: 'owner@client.test', to: ['gone@remote.test'], raw: 'Subject: bounce while bounce restarts\r\n\r\nx\r\n' });
  assert.match(r.response, /^250 /);
  await waitFor(
    () => sink.messages.some((m) => m.mailFrom === '' && m.rcptTo.includes('owner@client.test') && m.raw.includes('gone@remote.test')),
    30_000,
    'the failure notice',
  );
});
