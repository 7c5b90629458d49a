/** Scheduler dispatch: grouping, recipient limits, concurrency, feedback, dead destinations, limits. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, message, waitFor, logged } from './qmgr-harness.js';

function allDone(h: Harness): boolean {
  return [...h.journal.values()].every((m) => m.recipients.every((r) => r.state !== 'ready' && r.state !== 'deferred'));
}

test('groups recipients by (transport, nexthop) and splits at the recipient limit', async (t) => {
  const h = new Harness(t, {
    params: { default_destination_recipient_limit: '3', relay_destination_recipient_limit: '1' },
    routes: { 'b.example': ['relay', '[relay.example]:25'] },
  });
  const a = Array.from({ length: 7 }, (_, i) => `u${i}@a.example`);
  const m = h.arrive(message([...a, 'x@b.example', 'y@B.example']));
  await waitFor(() => allDone(h), 5000, 'all delivered');
  const toA = h.callsTo('a.example');
  assert.deepEqual(toA.map((c) => c.addresses.length).sort(), [1, 3, 3]);
  assert.ok(toA.every((c) => c.transport === 'smtp'));
  assert.deepEqual(toA.flatMap((c) => c.addresses).sort(), [...a].sort());
  const toRelay = h.callsTo('[relay.example]:25');
  assert.equal(toRelay.length, 2);
  assert.ok(toRelay.every((c) => c.transport === 'relay' && c.addresses.length === 1));
  await waitFor(() => logged(`${m.queueId}: removed`).length === 1, 2000, 'removed');
  assert.equal(logged(`${m.queueId}: from=<sender@example.org>, size=100, nrcpt=9 (queue active)`).length, 1);
});

test('per-destination concurrency: slow start from initial to the limit, never above', async (t) => {
  const h = new Harness(t, {
    params: { initial_destination_concurrency: '2', smtp_destination_concurrency_limit: '5' },
    deliveryMs: 15,
  });
  for (let i = 0; i < 40; i++) h.arrive(message([`u${i}@slow.example`]));
  await waitFor(() => allDone(h), 10000, 'all delivered');
  const calls = h.callsTo('slow.example');
  assert.equal(calls.length, 40);
  assert.equal(h.maxBusy.get('slow.example'), 5);
  assert.ok(calls.every((c) => c.concurrency <= 5));
  // Before any delivery finished only the initial window was open.
  assert.ok(calls.slice(0, 3).every((c) => c.concurrency <= 2), JSON.stringify(calls.slice(0, 3).map((c) => c.concurrency)));
  // The window opened one step at a time.
  const firstAt = (k: number) => calls.findIndex((c) => c.concurrency === k);
  for (let k = 3; k <= 5; k++) assert.ok(firstAt(k) > firstAt(k - 1), `concurrency ${k} after ${k - 1}`);
});

test('one destination over several agent threads: each lane within its share of the limit, the shares summing to it', async (t) => {
  const h = new Harness(t, {
    params: { initial_destination_concurrency: '5', smtp_destination_concurrency_limit: '5' },
    deliveryMs: 15,
    lanes: 2,
  });
  for (let i = 0; i < 40; i++) h.arrive(message([`u${i}@busy.example`]));
  await waitFor(() => allDone(h), 10000, 'all delivered');
  const calls = h.callsTo('busy.example');
  assert.equal(calls.length, 40);
  assert.equal(h.maxBusy.get('busy.example'), 5, 'the limit is reached, not passed');
  assert.deepEqual([...new Set(calls.map((c) => c.lane))].sort(), [0, 1], 'both threads deliver');
  // Five over two lanes: shares of three (the destination's first lane) and two.
  const first = calls[0].lane;
  for (const c of calls) assert.ok(c.laneConcurrency <= (c.lane === first ? 3 : 2), `lane ${c.lane} held ${c.laneConcurrency}`);
  assert.ok(calls.some((c) => c.lane === first && c.laneConcurrency === 3), 'the larger share is used up');
});

test('a destination with one delivery at a time keeps to one agent thread', async (t) => {
  const h = new Harness(t, { params: { smtp_destination_concurrency_limit: '1' }, lanes: 4 });
  for (let i = 0; i < 8; i++) h.arrive(message([`u${i}@calm.example`]));
  await waitFor(() => allDone(h), 10000, 'all delivered');
  const lanes = new Set(h.callsTo('calm.example').map((c) => c.lane));
  assert.equal(lanes.size, 1, `one lane, saw ${[...lanes].join(', ')}`);
});

test('cuts the window after site failures, then grows it again', async (t) => {
  let failures = 0;
  const h = new Harness(t, {
    params: { initial_destination_concurrency: '4', smtp_destination_concurrency_limit: '4', default_destination_concurrency_failed_cohort_limit: '10' },
    deliveryMs: 15,
    answer: () => (failures++ < 4 ? { state: 'deferred', dsn: '4.4.2', reason: 'lost connection with flaky.example' } : { state: 'delivered' }),
  });
  for (let i = 0; i < 20; i++) h.arrive(message([`u${i}@flaky.example`]));
  await waitFor(() => allDone(h), 10000, 'all delivered');
  const calls = h.callsTo('flaky.example');
  assert.deepEqual(calls.slice(0, 4).map((c) => c.concurrency), [1, 2, 3, 4]);
  // Four failures cut 4 -> 2 -> 1: the next request goes alone.
  assert.equal(calls[4].concurrency, 1);
  assert.ok(calls.slice(4).some((c) => c.concurrency >= 3), 'grew back');
  assert.ok(calls.every((c) => c.concurrency <= 4));
});

test('a dead destination: its queued recipients are deferred untried, and delivered after the backoff', async (t) => {
  let up = false;
  const h = new Harness(t, {
    params: { initial_destination_concurrency: '4', smtp_destination_concurrency_limit: '4', minimal_backoff_time: '300ms', maximal_backoff_time: '300ms' },
    deliveryMs: 15,
    answer: (_a, call) => (up || call.nexthop !== 'down.example' ? { state: 'delivered' } : { state: 'deferred', dsn: '4.4.1', reason: 'connect to down.example[192.0.2.1]:25: Connection refused' }),
  });
  const ms = Array.from({ length: 10 }, (_, i) => h.arrive(message([`u${i}@down.example`, `v${i}@up.example`])));
  await waitFor(() => ms.every((m) => h.state(m.queueId, 0) === 'deferred' && h.state(m.queueId, 1) === 'delivered'), 5000, 'deferrals');
  // Only the first cohort was tried: 4 -> 2 -> 1 -> dead after one failed cohort at 1.
  assert.equal(h.callsTo('down.example').length, 4);
  const untried = h.records.flatMap((r) => r.outcomes).filter((o) => o.reason.startsWith('delivery temporarily suspended: '));
  assert.equal(untried.length, 6);
  assert.ok(untried.every((o) => o.reason.includes('Connection refused') && o.dsn === '4.4.1' && o.state === 'deferred'));
  assert.ok(logged('relay=none').some((l) => l.includes('status=deferred (delivery temporarily suspended: connect to down.example')));
  // The other destination of the same messages was not held back.
  assert.equal(h.callsTo('up.example').length, 10);
  up = true;
  await waitFor(() => allDone(h), 8000, 'delivered after backoff');
  assert.equal(h.callsTo('down.example').length, 14);
});

test('the transport process limit caps deliveries over all destinations', async (t) => {
  const h = new Harness(t, { params: { smtp_process_limit: '3' }, deliveryMs: 10 });
  for (let d = 0; d < 5; d++) for (let i = 0; i < 4; i++) h.arrive(message([`u${i}@d${d}.example`]));
  await waitFor(() => allDone(h), 10000, 'all delivered');
  assert.equal(h.calls.length, 20);
  assert.ok(h.calls.every((c) => c.transportConcurrency <= 3));
  assert.ok(h.calls.some((c) => c.transportConcurrency === 3));
});

test('qmgr_message_active_limit caps the active queue; the rest wait their turn', async (t) => {
  const actives: number[] = [];
  const h = new Harness(t, {
    params: { qmgr_message_active_limit: '2' },
    deliveryMs: 5,
    answer: () => {
      actives.push(h.scheduler.load().active);
      return { state: 'delivered' };
    },
  });
  for (let i = 0; i < 10; i++) h.arrive(message([`u${i}@a${i}.example`]));
  assert.equal(h.scheduler.load().active, 2);
  await waitFor(() => allDone(h), 5000, 'all delivered');
  assert.equal(h.calls.length, 10);
  assert.ok(actives.every((n) => n <= 2));
  await waitFor(() => h.scheduler.load().active === 0, 2000, 'empty active queue');
});
