/**
 * Queue administration end to end: fill the queue with deferred mail, then
 * drive every command (list, JSON list, show, hold, release, delete with ids
 * on standard input, requeue, flush, flush by site) and check the effect in
 * the queue and in delivery.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { sendMail, waitFor } from '../helpers/send-mail.js';

let sink: SmtpSink;
let daemon: RunningDaemon;
let refuse = true;
const ids: string[] = [];

before(async () => {
  sink = await startSmtpSink({ rcpt: () => (refuse ? { code: 451, message: '4.3.2 queue test says later' } : null) });
  daemon = await startDaemon({
    params: { relayhost: `[127.0.0.1]:${sink.port}`, minimal_backoff_time: '300s', maximal_backoff_time: '600s', queue_run_delay: '300s' },
  });
  for (let i = 0; i < 5; i++) {
    const r = await sendMail(daemon.port, { from: `q${i}@client.test`, to: [`r${i}@remote.test`], raw: `Subject: queued ${i}\r\n\r\nbody ${i}\r\n` });
    ids.push(r.queueId!);
  }
  await waitFor(async () => {
    const r = await daemon.cli(['queue', '--json']);
    return r.stdout.split('\n').filter((l) => l.includes('"deferred"')).length === 5;
  }, 20_000, 'five deferred messages');
});

after(async () => {
  await daemon?.stop();
  await sink?.close();
});

async function queueJson(): Promise<Array<{ queue_id: string; queue_name: string; sender: string; recipients: Array<{ address: string; delay_reason?: string }> }>> {
  const r = await daemon.cli(['queue', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return r.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l));
}

test('queue lists deferred mail like mailq, with the deferral reason', async () => {
  const r = await daemon.cli(['queue']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /^-Queue ID- +--Size-- ----Arrival Time---- -Sender\/Recipient-------/);
  for (const id of ids) assert.ok(r.stdout.includes(id), `lists ${id}`);
  assert.match(r.stdout, /\(host 127\.0\.0\.1\[127\.0\.0\.1\] said: 451 4\.3\.2 queue test says later/);
  assert.match(r.stdout, /-- \d+ Kbytes in 5 Requests\./);
  const json = await queueJson();
  assert.equal(json.length, 5);
  assert.equal(json[0].queue_name, 'deferred');
  assert.match(json[0].recipients[0].delay_reason ?? '', /451 4\.3\.2/);
});

test('queue show prints the envelope, headers and body', async () => {
  const r = await daemon.cli(['queue', 'show', ids[0]]);
  assert.equal(r.code, 0, r.stderr);
  assert.ok(r.stdout.includes('q0@client.test'));
  assert.ok(r.stdout.includes('Subject: queued 0'));
  assert.ok(r.stdout.includes('body 0'));
  const missing = await daemon.cli(['queue', 'show', 'NOSUCHID123']);
  assert.notEqual(missing.code, 0);
  assert.match(missing.stderr, /not found/);
});

test('hold and release', async () => {
  assert.equal((await daemon.cli(['queue', 'hold', ids[1]])).code, 0);
  let q = await queueJson();
  assert.equal(q.find((m) => m.queue_id === ids[1])?.queue_name, 'hold');
  const mailq = await daemon.cli(['queue']);
  assert.ok(mailq.stdout.includes(`${ids[1]}!`), 'held mail is marked with !');
  assert.equal((await daemon.cli(['queue', 'release', ids[1]])).code, 0);
  q = await queueJson();
  assert.notEqual(q.find((m) => m.queue_id === ids[1])?.queue_name, 'hold');
});

test('delete with queue ids from standard input', async () => {
  const r = await daemon.cli(['queue', 'delete', '-'], `${ids[2]}\n${ids[3]}\n`);
  assert.equal(r.code, 0, r.stderr);
  const q = await queueJson();
  assert.equal(q.length, 3);
  assert.ok(!q.some((m) => m.queue_id === ids[2] || m.queue_id === ids[3]));
});

test('requeue, flush by site and flush deliver deferred mail now', async () => {
  refuse = false;
  assert.equal((await daemon.cli(['queue', 'requeue', ids[0]])).code, 0);
  await waitFor(() => sink.messages.some((m) => !m.refused && m.rcptTo.includes('r0@remote.test')), 20_000, 'requeued delivery');
  assert.equal((await daemon.cli(['flush', 'remote.test'])).code, 0);
  assert.equal((await daemon.cli(['flush'])).code, 0);
  await waitFor(async () => (await queueJson()).length === 0, 20_000, 'empty queue');
  assert.ok(sink.messages.some((m) => !m.refused && m.rcptTo.includes('r4@remote.test')));
  assert.ok(!sink.messages.some((m) => !m.refused && m.rcptTo.includes('r2@remote.test')), 'deleted mail is never delivered');
  const empty = await daemon.cli(['queue']);
  assert.match(empty.stdout, /Mail queue is empty/);
});
