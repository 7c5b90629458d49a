/**
 * Queue administration end to end: fill the queue with deferred mail, then
 * drive every command (list, JSON list, show, hold, release, delete with ids
 * on standard input, requeue, flush, flush by site) and check the effect in
 * the queue and in delivery.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
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
  const held = await daemon.cli(['queue', 'hold', ids[1]]);
  assert.equal(held.code, 0);
  assert.equal(held.stderr, `postsuper: ${ids[1]}: placed on hold\npostsuper: Placed on hold: 1 message\n`);
  let q = await queueJson();
  assert.equal(q.find((m) => m.queue_id === ids[1])?.queue_name, 'hold');
  const mailq = await daemon.cli(['queue']);
  assert.ok(mailq.stdout.includes(`${ids[1]}!`), 'held mail is marked with !');
  const released = await daemon.cli(['queue', 'release', ids[1]]);
  assert.equal(released.code, 0);
  assert.equal(released.stderr, `postsuper: ${ids[1]}: released from hold\npostsuper: Released from hold: 1 message\n`);
  q = await queueJson();
  assert.notEqual(q.find((m) => m.queue_id === ids[1])?.queue_name, 'hold');
  const log = daemon.log();
  assert.match(log, new RegExp(` postrider/postsuper\\[\\d+\\]: ${ids[1]}: placed on hold$`, 'm'));
  assert.match(log, / postrider\/postsuper\[\d+\]: Placed on hold: 1 message$/m);
  assert.match(log, new RegExp(` postrider/postsuper\\[\\d+\\]: ${ids[1]}: released from hold$`, 'm'));
});

test('delete with queue ids from standard input', async () => {
  const r = await daemon.cli(['queue', 'delete', '-'], `${ids[2]}\n${ids[3]}\n`);
  assert.equal(r.code, 0, r.stderr);
  const q = await queueJson();
  assert.equal(q.length, 3);
  assert.ok(!q.some((m) => m.queue_id === ids[2] || m.queue_id === ids[3]));
});

test('ALL takes queue names as postsuper does; hold skips held mail, release takes only held mail, and the counts say so', async () => {
  const rest = [ids[0], ids[1], ids[4]];
  const holdAll = await daemon.cli(['queue', 'hold', 'ALL', 'deferred']);
  assert.equal(holdAll.code, 0, holdAll.stderr);
  for (const id of rest) assert.ok(holdAll.stderr.includes(`postsuper: ${id}: placed on hold\n`), holdAll.stderr);
  assert.ok(holdAll.stderr.endsWith('postsuper: Placed on hold: 3 messages\n'), holdAll.stderr);
  const again = await daemon.cli(['queue', 'hold', 'ALL']);
  assert.equal(again.code, 0);
  assert.equal(again.stderr, '', 'nothing left to hold: postsuper says nothing');

  assert.equal((await daemon.cli(['queue', 'release', ids[1]])).code, 0);
  const notHeld = await daemon.cli(['queue', 'release', ids[1]]);
  assert.equal(notHeld.code, 0);
  assert.equal(notHeld.stderr, '', 'releasing mail that is not on hold changes nothing');
  const noneHeld = await daemon.cli(['queue', 'delete', 'ALL', 'deferred', 'active'], '');
  assert.equal(noneHeld.code, 0);
  assert.equal(noneHeld.stderr, `postsuper: ${ids[1]}: removed\npostsuper: Deleted: 1 message\n`, 'only the released message was outside hold');

  const releaseAll = await daemon.cli(['queue', 'release', 'ALL']);
  assert.equal(releaseAll.code, 0);
  const lines = releaseAll.stderr.split('\n').filter(Boolean);
  assert.deepEqual(lines.slice(0, 2).sort(), [`postsuper: ${ids[0]}: released from hold`, `postsuper: ${ids[4]}: released from hold`].sort());
  assert.deepEqual(lines.slice(2), ['postsuper: Released from hold: 2 messages']);
  const q = await queueJson();
  assert.deepEqual(q.map((m) => m.queue_name), ['deferred', 'deferred']);
  assert.match(daemon.log(), new RegExp(` postrider/postsuper\\[\\d+\\]: ${ids[1]}: removed$`, 'm'));
  assert.match(daemon.log(), / postrider\/postsuper\[\d+\]: Released from hold: 2 messages$/m);

  const bad = await daemon.cli(['queue', 'hold', 'ALL', 'bogus']);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /invalid queue name: bogus/);
});

test('with the daemon down, queue and queue show read the journal without changing a byte of it', async () => {
  const journal = join(daemon.queueDir, 'journal');
  const snapshot = (): string => readdirSync(journal).sort().map((f) => {
    const st = statSync(join(journal, f));
    return `${f} ${st.size} ${st.mtimeMs} ${(st.mode & 0o777).toString(8)} ${createHash('sha256').update(readFileSync(join(journal, f))).digest('hex')}`;
  }).join('\n');
  const live = await daemon.cli(['queue']);
  await daemon.stop();
  try {
    const before = snapshot();
    const entries = readdirSync(daemon.queueDir).sort();
    const down = await daemon.cli(['queue']);
    assert.equal(down.code, 0, down.stderr);
    assert.equal(down.stdout, live.stdout, 'the same listing as the running daemon gave');
    assert.match(down.stdout, /-- \d+ Kbytes in 2 Requests\./);
    const json = await daemon.cli(['queue', '--json']);
    assert.equal(json.code, 0, json.stderr);
    assert.deepEqual(json.stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l).queue_id).sort(), [ids[0], ids[4]].sort());
    const show = await daemon.cli(['queue', 'show', ids[4]]);
    assert.equal(show.code, 0, show.stderr);
    assert.ok(show.stdout.includes('Subject: queued 4'));
    const missing = await daemon.cli(['queue', 'show', 'NOSUCHID1234']);
    assert.notEqual(missing.code, 0);
    assert.match(missing.stderr, /queue id NOSUCHID1234: not found/);
    const change = await daemon.cli(['queue', 'hold', ids[4]]);
    assert.notEqual(change.code, 0, 'changes need the daemon');
    assert.match(change.stderr, /not running/);
    assert.equal(snapshot(), before, 'the journal is untouched');
    assert.deepEqual(readdirSync(daemon.queueDir).sort(), entries, 'nothing is created in the queue directory');
  } finally {
    await daemon.restart();
  }
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
