/** Scheduler administration and recovery: hold, release, delete, requeue, flush, start(), drain(). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, message, waitFor, logged } from './qmgr-harness.js';

const LONG = { minimal_backoff_time: '1h', maximal_backoff_time: '2h', queue_run_delay: '1h' };

test('hold keeps a deferred message from being tried; release schedules it again', async (t) => {
  let up = false;
  const h = new Harness(t, { answer: () => (up ? { state: 'delivered' } : { state: 'deferred', reason: 'try later' }) });
  const m = h.arrive(message(['a@x.example']));
  await waitFor(() => h.scheduler.load().deferred === 1, 2000, 'deferred');
  assert.equal(await h.scheduler.admin('hold', [m.queueId]), 1);
  assert.deepEqual({ ...h.scheduler.load(), destinations: undefined }, { active: 0, deferred: 0, hold: 1, inFlight: 0, destinations: undefined });
  up = true;
  const before = h.calls.length;
  await new Promise((r) => setTimeout(r, 400)); // well past the 100-200 ms backoff
  assert.equal(h.calls.length, before);
  assert.equal(h.scheduler.flush(), 0);
  assert.equal(await h.scheduler.admin('release', [m.queueId]), 1);
  await waitFor(() => h.state(m.queueId, 0) === 'delivered', 3000, 'delivered');
});

test('a message held at arrival waits; hold while in flight lets the delivery finish, then waits', async (t) => {
  const h = new Harness(t, { deliveryMs: 30, answer: (a) => (a.startsWith('d') ? { state: 'delivered' } : { state: 'deferred', reason: 'try later' }) });
  const held = h.arrive(message(['a@x.example'], { hold: true }));
  const busy = h.arrive(message(['d@y.example', 'e@y.example']));
  assert.equal(h.scheduler.load().hold, 1);
  await waitFor(() => h.scheduler.load().inFlight === 1, 2000, 'in flight');
  await h.scheduler.admin('hold', [busy.queueId]);
  await waitFor(() => h.scheduler.load().hold === 2, 2000, 'both held');
  assert.equal(h.state(busy.queueId, 0), 'delivered');
  assert.equal(h.callsTo('x.example').length, 0);
  await h.scheduler.admin('release', 'ALL');
  await waitFor(() => h.callsTo('x.example').length === 1, 2000, 'released and tried');
  assert.equal(h.callsTo('x.example')[0].queueId, held.queueId);
});

test('delete forgets a message; the result of its delivery in flight is ignored', async (t) => {
  const h = new Harness(t, { deliveryMs: 50 });
  const m = h.arrive(message(['a@x.example']));
  await waitFor(() => h.scheduler.load().inFlight === 1, 2000, 'in flight');
  assert.equal(await h.scheduler.admin('delete', [m.queueId]), 1);
  await waitFor(() => h.scheduler.load().inFlight === 0, 2000, 'agent answered');
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(h.records.filter((r) => r.queueId === m.queueId).length, 0);
  assert.equal(await h.scheduler.admin('delete', [m.queueId]), 0);
  assert.equal(logged(`${m.queueId}: removed`).length, 0);
});

test('requeue makes deferred recipients due now and resolves them again', async (t) => {
  let up = false;
  const h = new Harness(t, { params: LONG, answer: () => (up ? { state: 'delivered' } : { state: 'deferred', reason: 'try later' }) });
  const m = h.arrive(message(['a@x.example']));
  await waitFor(() => h.scheduler.load().deferred === 1, 2000, 'deferred');
  assert.equal(h.resolveCalls.length, 1);
  up = true;
  assert.equal(await h.scheduler.admin('requeue', [m.queueId]), 1);
  await waitFor(() => h.state(m.queueId, 0) === 'delivered', 2000, 'delivered');
  assert.equal(h.resolveCalls.length, 2);
});

test('flush by site retries only that destination; flush retries the rest', async (t) => {
  let up = false;
  const h = new Harness(t, {
    params: LONG,
    routes: { 'b.example': ['relay', '[gw.example]:587'] },
    answer: () => (up ? { state: 'delivered' } : { state: 'deferred', reason: 'try later' }),
  });
  const a = h.arrive(message(['u@a.example']));
  const b = h.arrive(message(['u@b.example']));
  await waitFor(() => h.scheduler.load().deferred === 2, 2000, 'both deferred');
  up = true;
  assert.equal(h.scheduler.flush('nowhere.example'), 0);
  assert.equal(h.scheduler.flush('a.example'), 1);
  await waitFor(() => h.state(a.queueId, 0) === 'delivered', 2000, 'a delivered');
  assert.equal(h.state(b.queueId, 0), 'deferred');
  assert.equal(h.scheduler.flush('gw.example'), 1); // nexthop, brackets and port aside
  await waitFor(() => h.state(b.queueId, 0) === 'delivered', 2000, 'b delivered');
  assert.equal(h.scheduler.flush(), 0);
});

test('flush with no site retries every deferred message', async (t) => {
  let up = false;
  const h = new Harness(t, { params: LONG, answer: () => (up ? { state: 'delivered' } : { state: 'deferred', reason: 'try later' }) });
  const ms = [h.arrive(message(['u@a.example'])), h.arrive(message(['u@b.example'])), h.arrive(message(['u@c.example']))];
  await waitFor(() => h.scheduler.load().deferred === 3, 2000, 'deferred');
  up = true;
  assert.equal(h.scheduler.flush(), 3);
  await waitFor(() => ms.every((m) => h.state(m.queueId, 0) === 'delivered'), 2000, 'delivered');
});

test('start() with a recovered queue: ready now, deferred at its due time, done ones never again, hold waits', async (t) => {
  const h = new Harness(t, { params: { queue_run_delay: '1h' } });
  const now = Date.now();
  const [ready, deferred, partial, held] = h.recovered(
    message(['a@r.example']),
    message([{ address: 'b@d.example', state: 'deferred', nextAttempt: now + 300, reason: 'try later', dsn: '4.0.0', attempts: 1 }]),
    message([
      { address: 'c@p.example', state: 'delivered', attempts: 1 },
      { address: 'd@p.example', state: 'ready' },
      { address: 'e@p.example', state: 'bounced', attempts: 1 },
    ]),
    message(['f@h.example'], { hold: true }),
  );
  h.scheduler.start([ready, deferred, partial, held]);
  await waitFor(() => h.state(ready.queueId, 0) === 'delivered' && h.state(partial.queueId, 1) === 'delivered', 2000, 'ready ones');
  assert.equal(h.state(deferred.queueId, 0), 'deferred');
  assert.deepEqual(h.callsTo('p.example').map((c) => c.addresses), [['d@p.example']]);
  await waitFor(() => h.state(deferred.queueId, 0) === 'delivered', 3000, 'deferred one at its time');
  assert.ok(h.callsTo('d.example')[0].at >= now + 300);
  assert.equal(h.callsTo('h.example').length, 0);
  assert.equal(h.scheduler.load().hold, 1);
  // A message handed over twice (start, then arrived) is scheduled once.
  h.scheduler.arrived(held);
  assert.equal(h.scheduler.load().hold, 1);
});

test('drain stops new deliveries and waits for those in flight to be recorded', async (t) => {
  const h = new Harness(t, { deliveryMs: 40 });
  const m = h.arrive(message(['a@x.example']));
  await waitFor(() => h.scheduler.load().inFlight === 1, 2000, 'in flight');
  await h.scheduler.drain();
  assert.equal(h.state(m.queueId, 0), 'delivered');
  assert.equal(h.scheduler.load().inFlight, 0);
  const late = h.arrive(message(['b@x.example']));
  await new Promise((r) => setTimeout(r, 50));
  assert.equal(h.callsTo('x.example').length, 1);
  assert.equal(h.state(late.queueId, 0), 'ready');
});
