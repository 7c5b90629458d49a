/**
 * Queue shards end to end, on the real daemon: with queue_shard_count = 3
 * there are three journal writers and three qmgrs, every shard's messages
 * are delivered and listed as one queue, a queue id leads the admin commands
 * to its shard, a shard directory beyond the configured count is recovered
 * and served, and one destination's concurrency limit holds for the host,
 * not per shard.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { sendMail, waitFor } from '../helpers/send-mail.js';
import { QueueIdGenerator, QueueStore } from '../../src/store/queue-store.js';
import { makeMessage } from '../store/store-fixture.js';

let sink: SmtpSink;
let daemon: RunningDaemon;
let refuse = true;

before(async () => {
  // Slow answers make deliveries overlap, so a limit that were per shard would show.
  sink = await startSmtpSink({
    dataDelayMs: 150,
    rcpt: (to) => (refuse && to.startsWith('held') ? { code: 451, message: '4.3.2 not yet' } : null),
  });
  daemon = await startDaemon({
    params: {
      relayhost: `[127.0.0.1]:${sink.port}`,
      queue_shard_count: '3',
      smtp_destination_concurrency_limit: '2',
      initial_destination_concurrency: '5',
    },
  });
});

after(async () => {
  await daemon?.stop();
  await sink?.close();
});

interface ActorRow { role: string; instance: number; state: string }

async function actors(role: string): Promise<ActorRow[]> {
  const status = JSON.parse((await daemon.cli(['status', '--json'])).stdout) as { actors: ActorRow[] };
  return status.actors.filter((a) => a.role === role);
}

function delivered(to: string): number {
  return sink.messages.filter((m) => !m.refused && m.rcptTo.includes(to)).length;
}

test('queue_shard_count = 3 runs a journal and a qmgr per shard, and no more than the destination concurrency limit of deliveries across them', async () => {
  assert.deepEqual((await actors('journal')).map((a) => a.instance).sort(), [1, 2, 3]);
  assert.deepEqual((await actors('qmgr')).map((a) => a.instance).sort(), [1, 2, 3]);
  const n = 36;
  const sends = [];
  for (let i = 0; i < n; i++) sends.push(sendMail(daemon.port, { from: 's@client.test', to: [`limit${i}@remote.test`], raw: `Subject: limit ${i}\r\n\r\nbody ${i}\r\n` }));
  for (const r of await Promise.all(sends)) assert.match(r.response, /^250 /);
  await waitFor(() => Array.from({ length: n }, (_, i) => delivered(`limit${i}@remote.test`)).every((c) => c >= 1), 60_000, 'every message delivered');
  // Every shard took some of the mail (round robin at arrival).
  for (let s = 1; s < 3; s++) assert.ok(existsSync(join(daemon.queueDir, 'shards', String(s), 'journal')), `shard ${s} has its own journal`);
  assert.ok(daemon.log().includes('journal recovery (shard 2)'), 'shard 2 opened its own store');
  // The limit bounds deliveries in parallel, and sessions too: each smtp agent caches at most its lane's share.
  assert.ok(sink.maxTransactions <= 2, `the sink saw ${sink.maxTransactions} deliveries at once; the limit is 2 for the host`);
  assert.equal(sink.maxTransactions, 2, 'deliveries did overlap up to the limit');
  assert.ok(sink.maxConcurrent <= 2, `the sink saw ${sink.maxConcurrent} sessions at once; the limit is 2 for the host`);
});

test('the queue lists every shard as one queue, and a queue id leads show, hold, release and delete to its shard', async () => {
  const ids: string[] = [];
  for (let i = 0; i < 9; i++) {
    const r = await sendMail(daemon.port, { from: 's@client.test', to: [`held${i}@remote.test`], raw: `Subject: held ${i}\r\n\r\nbody ${i}\r\n` });
    const m = /queued as ([0-9A-Za-z]+)/.exec(r.response);
    assert.ok(m, r.response);
    ids.push(m[1]);
  }
  // The appends went round robin over three journals: more than one shard holds them.
  const list = await daemon.cli(['queue', '--json']);
  assert.equal(list.code, 0, list.stderr);
  const listed = list.stdout.trim().split('\n').map((l) => (JSON.parse(l) as { queue_id: string }).queue_id);
  for (const id of ids) assert.ok(listed.includes(id), `${id} listed`);
  assert.deepEqual(listed, [...listed].sort(), 'one listing in queue-id order across the shards');
  assert.equal(new Set(listed).size, listed.length, 'no message listed twice');
  for (const id of ids) {
    const show = await daemon.cli(['queue', 'show', id]);
    assert.equal(show.code, 0, show.stderr);
    assert.match(show.stdout, /Subject: held \d/);
  }
  const hold = await daemon.cli(['queue', 'hold', ...ids.slice(0, 3)]);
  assert.equal(hold.code, 0, hold.stderr);
  assert.match(hold.stderr, /Placed on hold: 3 messages/);
  const del = await daemon.cli(['queue', 'delete', ids[8]]);
  assert.equal(del.code, 0, del.stderr);
  assert.match(del.stderr, /Deleted: 1 message/);
  refuse = false;
  const flush = await daemon.cli(['flush']);
  assert.equal(flush.code, 0, flush.stderr);
  await waitFor(() => [3, 4, 5, 6, 7].every((i) => delivered(`held${i}@remote.test`) === 1), 30_000, 'the messages not held delivered');
  assert.equal(delivered('held0@remote.test'), 0, 'a held message stays');
  assert.equal(delivered('held8@remote.test'), 0, 'a deleted message is gone');
  const release = await daemon.cli(['queue', 'release', 'ALL']);
  assert.equal(release.code, 0, release.stderr);
  await daemon.cli(['flush']);
  await waitFor(() => [0, 1, 2].every((i) => delivered(`held${i}@remote.test`) === 1), 30_000, 'the released messages delivered');
  await waitFor(async () => JSON.parse((await daemon.cli(['status', '--json'])).stdout).queue?.total === 0, 20_000, 'an empty queue in every shard');
});

test('a queue with more shard directories than configured is recovered: every shard found is replayed and delivered', async () => {
  await daemon.stop();
  // Messages written straight into shards 0 .. 4 while the daemon is down; 3 and 4 are beyond queue_shard_count.
  const gen = new QueueIdGenerator(3000);
  const expected: string[] = [];
  for (const shard of [0, 1, 2, 3, 4]) {
    // Small segments: the daemon then replays a few KiB per shard, not two pre-sized 64 MiB segments of zeros each.
    const store = await QueueStore.open(daemon.queueDir, { shard, compactIntervalMs: 0, segmentBytes: 256 * 1024 });
    for (let i = 0; i < 4; i++) {
      const to = `recover${shard}x${i}@remote.test`;
      expected.push(to);
      await store.append(makeMessage(gen.next(), 600, 1, {
        arrivalTime: Date.now(),
        sender: 'owner@client.test',
        recipients: [{ address: to, notify: ['FAILURE'] }],
      }));
    }
    await store.close();
  }
  await daemon.restart();
  assert.deepEqual((await actors('journal')).map((a) => a.instance).sort(), [1, 2, 3, 4, 5]);
  assert.deepEqual((await actors('qmgr')).map((a) => a.instance).sort(), [1, 2, 3, 4, 5]);
  await waitFor(() => expected.every((to) => delivered(to) === 1), 30_000, 'every recovered message delivered once');
  await waitFor(async () => JSON.parse((await daemon.cli(['status', '--json'])).stdout).queue?.total === 0, 20_000, 'an empty queue');
  assert.ok(sink.maxTransactions <= 2, `the sink saw ${sink.maxTransactions} deliveries at once with five shards`);
});
