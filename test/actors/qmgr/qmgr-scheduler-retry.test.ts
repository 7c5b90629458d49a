/**
 * Scheduler outcomes: deferral and backoff, crashed agents, expiry, bounces
 * and DSN notices. The scheduler owns the end of a pass: it records each
 * failed recipient as it is reported, and when the pass ends asks bounce for
 * one failure notice listing every failed recipient not listed yet, then
 * records them as listed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Harness, message, notify, waitFor, logged } from './qmgr-harness.js';

test('defers on 4xx, records the next attempt, retries after the backoff and delivers', async (t) => {
  const h = new Harness(t, {
    answer: (_a, _c, attempt) => (attempt === 1 ? { state: 'deferred', dsn: '4.2.0', reason: '451 4.2.0 try later' } : { state: 'delivered' }),
  });
  const m = h.arrive(message(['a@x.example']));
  await waitFor(() => h.state(m.queueId, 0) === 'delivered', 5000, 'delivered');
  const deferral = h.records.find((r) => r.outcomes[0].state === 'deferred')!.outcomes[0];
  assert.equal(deferral.dsn, '4.2.0');
  assert.equal(deferral.reason, '451 4.2.0 try later');
  assert.ok(typeof deferral.nextAttempt === 'number');
  const calls = h.callsTo('x.example');
  assert.equal(calls.length, 2);
  // Not retried before it was due.
  assert.ok(calls[1].at >= deferral.nextAttempt!, `${calls[1].at} >= ${deferral.nextAttempt}`);
  assert.equal(h.notices.length, 0);
  await waitFor(() => logged(`${m.queueId}: removed`).length === 1, 2000, 'removed');
  // One "queue active" line per entry into the active queue.
  assert.equal(logged(`${m.queueId}: from=<`).length, 2);
});

test('a crashed delivery agent defers the request; the mail is retried and delivered, nothing lost', async (t) => {
  let crashes = 0;
  const h = new Harness(t, { answer: () => (crashes++ === 0 ? 'crash' : { state: 'delivered' }) });
  const m = h.arrive(message(['a@x.example', 'b@x.example', 'c@x.example']));
  await waitFor(() => [0, 1, 2].every((i) => h.state(m.queueId, i) === 'delivered'), 5000, 'delivered');
  const first = h.records[0].outcomes;
  assert.equal(first.length, 3);
  assert.ok(first.every((o) => o.state === 'deferred' && o.dsn === '4.3.0' && o.reason === 'delivery agent crashed/unavailable'));
  assert.equal(h.callsTo('x.example').length, 2);
  assert.ok(logged(`${m.queueId}: to=<a@x.example>, relay=none`).some((l) => l.includes('status=deferred (delivery agent crashed/unavailable)')));
});

test('5xx bounces: the bounced outcomes reach the journal with dsn, reason and relay; one failure notice at the end of the pass lists both', async (t) => {
  const h = new Harness(t, {
    answer: (a) => (a.startsWith('bad') ? { state: 'bounced', dsn: '5.1.1', reason: '550 5.1.1 no such user' } : { state: 'delivered' }),
  });
  const m = h.arrive(message(['bad1@x.example', 'good@x.example', 'bad2@y.example']));
  await waitFor(() => logged(`${m.queueId}: removed`).length === 1, 5000, 'removed');
  const bounced = h.records.filter((r) => r.queueId === m.queueId).flatMap((r) => r.outcomes).filter((o) => o.state === 'bounced');
  assert.deepEqual(bounced.map((o) => o.index).sort(), [0, 2]);
  assert.ok(bounced.every((o) => o.dsn === '5.1.1' && o.reason === '550 5.1.1 no such user' && o.relay === (o.index === 0 ? 'x.example[127.0.0.1]:25' : 'y.example[127.0.0.1]:25')));
  assert.equal(h.state(m.queueId, 0), 'bounced');
  assert.equal(h.state(m.queueId, 1), 'delivered');
  assert.equal(h.state(m.queueId, 2), 'bounced');
  assert.equal(h.notices.length, 1, 'two destinations refused in one pass: one notice');
  assert.equal(h.notices[0].kind, 'failure');
  assert.deepEqual(h.notices[0].recipients, [
    { index: 0, dsn: '5.1.1', reason: '550 5.1.1 no such user', relay: 'x.example[127.0.0.1]:25' },
    { index: 2, dsn: '5.1.1', reason: '550 5.1.1 no such user', relay: 'y.example[127.0.0.1]:25' },
  ]);
  const last = h.records.filter((r) => r.queueId === m.queueId).at(-1)!;
  assert.deepEqual(last, { queueId: m.queueId, outcomes: [], noticed: [0, 2] }, 'the listed recipients are recorded last, after the notice');
});

test('in a retry pass, recipients failing at two destinations get one notice, not one per destination', async (t) => {
  const h = new Harness(t, {
    // Deferred for an hour: the retry pass is the flush below, which takes both recipients at once.
    params: { minimal_backoff_time: '1h', maximal_backoff_time: '2h', queue_run_delay: '1h' },
    answer: (a, _c, attempt) => (attempt === 1 ? { state: 'deferred', dsn: '4.4.1', reason: 'timed out' } : { state: 'bounced', dsn: '5.7.1', reason: `554 5.7.1 refused ${a}` }),
  });
  const m = h.arrive(message(['a@x.example', 'b@y.example']));
  await waitFor(() => h.state(m.queueId, 0) === 'deferred' && h.state(m.queueId, 1) === 'deferred', 5000, 'both deferred');
  await waitFor(() => h.scheduler.load().deferred === 1, 5000, 'in the deferred queue');
  assert.equal(h.scheduler.flush(), 1);
  await waitFor(() => logged(`${m.queueId}: removed`).length === 1, 5000, 'removed');
  assert.equal(h.notices.length, 1);
  assert.deepEqual(h.notices[0].addresses, ['a@x.example', 'b@y.example']);
});

test('a failure notice bounce cannot make is tried again; the message is done only once it is made', async (t) => {
  const h = new Harness(t, { params: { minimal_backoff_time: '50ms' }, answer: () => ({ state: 'bounced', dsn: '5.1.1', reason: '550 no such user' }) });
  h.bounceDown = true;
  const m = h.arrive(message(['a@x.example']));
  await waitFor(() => logged(`${m.queueId}: failure notice not sent`).length >= 2, 5000, 'two refused notices');
  assert.equal(h.state(m.queueId, 0), 'bounced');
  assert.equal(logged(`${m.queueId}: removed`).length, 0, 'kept while the notice is owed');
  assert.equal(h.calls.length, 1, 'the recipient is not tried again');
  h.bounceDown = false;
  await waitFor(() => logged(`${m.queueId}: removed`).length === 1, 5000, 'removed');
  assert.equal(h.notices.length, 1);
  assert.equal(h.notices[0].kind, 'failure');
});

test('a recovered message whose failure notice was not made before a crash gets it, with nothing delivered again', async (t) => {
  const h = new Harness(t);
  const [m] = h.recovered(
    message([
      { address: 'gone@x.example', state: 'bounced', attempts: 1, reason: '550 no', dsn: '5.1.1', relay: 'x.example[192.0.2.1]:25' },
      { address: 'ok@x.example', state: 'delivered', attempts: 1, reason: '250 ok', dsn: '2.0.0' },
      { address: 'old@x.example', state: 'bounced', attempts: 1, reason: '550 no', dsn: '5.1.1', failureNotified: true },
    ]),
  );
  h.scheduler.start([m]);
  await waitFor(() => logged(`${m.queueId}: removed`).length === 1, 5000, 'removed');
  assert.equal(h.calls.length, 0);
  assert.equal(h.notices.length, 1);
  assert.deepEqual(h.notices[0].recipients, [{ index: 0, dsn: '5.1.1', reason: '550 no', relay: 'x.example[192.0.2.1]:25' }], 'the listed one is not repeated');
});

test('bounced recipients are recorded whatever their NOTIFY and listed as NOTIFY asks; a delivered one with NOTIFY=SUCCESS gets its success notice', async (t) => {
  const h = new Harness(t, { answer: (a) => (a.startsWith('ok') ? { state: 'delivered' } : { state: 'bounced', dsn: '5.1.1', reason: 'no such user' }) });
  const m = h.arrive(
    message([
      { address: 'a@x.example', notify: notify('NEVER') },
      { address: 'b@x.example', notify: notify('DELAY') },
      'c@x.example',
      { address: 'ok@x.example', notify: notify('SUCCESS', 'FAILURE') },
    ]),
  );
  await waitFor(() => logged(`${m.queueId}: removed`).length === 1, 5000, 'removed');
  assert.deepEqual([0, 1, 2, 3].map((i) => h.state(m.queueId, i)), ['bounced', 'bounced', 'bounced', 'delivered']);
  assert.deepEqual(h.notices.map((n) => n.kind), ['failure', 'success']);
  assert.deepEqual(h.notices[0].addresses, ['c@x.example'], 'NOTIFY=NEVER and NOTIFY=DELAY are not listed');
  assert.deepEqual(h.notices[1].addresses, ['ok@x.example']);
  assert.ok(h.records.some((r) => r.queueId === m.queueId && r.noticed?.join() === '0,1,2'), 'all three are marked, listed or not');
});

test('NOTIFY=SUCCESS gets a success notice for the delivered recipients', async (t) => {
  const h = new Harness(t);
  const m = h.arrive(message([{ address: 'a@x.example', notify: notify('SUCCESS', 'FAILURE') }, 'b@x.example']));
  await waitFor(() => logged(`${m.queueId}: removed`).length === 1, 5000, 'removed');
  assert.equal(h.notices.length, 1);
  assert.equal(h.notices[0].kind, 'success');
  assert.deepEqual(h.notices[0].addresses, ['a@x.example']);
});

test('expiry: deferred recipients past maximal_queue_lifetime are expired and returned to sender', async (t) => {
  const h = new Harness(t, {
    params: { maximal_queue_lifetime: '0' },
    answer: (a) => (a.startsWith('slow') || a.startsWith('quiet') ? { state: 'deferred', dsn: '4.4.1', reason: 'connection timed out' } : { state: 'delivered' }),
  });
  const m = h.arrive(message(['slow@x.example', 'fast@y.example', { address: 'quiet@x.example', notify: notify('NEVER') }]));
  await waitFor(() => logged(`${m.queueId}: removed`).length === 1, 5000, 'removed');
  const expired = h.records.flatMap((r) => r.outcomes).filter((o) => o.state === 'expired');
  assert.deepEqual(expired.map((o) => o.index).sort(), [0, 2]);
  assert.ok(expired.every((o) => o.dsn === '4.4.1' && o.reason === 'connection timed out'));
  assert.deepEqual([0, 1, 2].map((i) => h.state(m.queueId, i)), ['expired', 'delivered', 'expired']);
  assert.equal(h.notices.length, 1);
  assert.equal(h.notices[0].kind, 'failure');
  assert.deepEqual(h.notices[0].addresses, ['slow@x.example'], 'NOTIFY=NEVER is not listed');
  assert.equal(logged(`${m.queueId}: from=<sender@example.org>, status=expired, returned to sender`).length, 1);
  // The expiry, then the mark of the notice, are the last things recorded for the message.
  const [expiry, mark] = h.records.filter((r) => r.queueId === m.queueId).slice(-2);
  assert.ok(expiry.outcomes.length > 0 && expiry.outcomes.every((o) => o.state === 'expired'));
  assert.deepEqual(mark.noticed, [0, 2]);
});

test('bounce_queue_lifetime applies to the null sender only', async (t) => {
  const h = new Harness(t, {
    params: { maximal_queue_lifetime: '5d', bounce_queue_lifetime: '0' },
    answer: () => ({ state: 'deferred', dsn: '4.4.1', reason: 'connection timed out' }),
  });
  const bounce = h.arrive(message(['a@x.example'], { sender: '' }));
  const normal = h.arrive(message(['b@x.example']));
  await waitFor(() => h.state(bounce.queueId, 0) === 'expired', 5000, 'expired');
  assert.equal(h.state(normal.queueId, 0), 'deferred');
  assert.equal(logged(`${bounce.queueId}: from=<>, status=expired, returned to sender`).length, 1);
});

test('a delay warning is sent once after delay_warning_time, and recorded', async (t) => {
  let up = false;
  const h = new Harness(t, {
    params: { delay_warning_time: '1s' },
    answer: () => (up ? { state: 'delivered' } : { state: 'deferred', dsn: '4.4.1', reason: 'connection timed out' }),
  });
  const old = Date.now() - 10_000;
  const m = h.arrive(message(['a@x.example', { address: 'b@x.example', notify: notify('FAILURE') }], { arrivalTime: old }));
  await waitFor(() => (h.attempts.get(`${m.queueId}/0`) ?? 0) >= 3, 5000, 'three attempts');
  up = true;
  await waitFor(() => logged(`${m.queueId}: removed`).length === 1, 5000, 'removed');
  const delays = h.notices.filter((n) => n.kind === 'delay');
  assert.equal(delays.length, 1);
  assert.deepEqual(delays[0].addresses, ['a@x.example']);
  assert.ok(h.records.some((r) => r.outcomes.some((o) => o.index === 0 && o.delayNotified === true && o.state === 'deferred')));
});

test('a delay warning names the server that deferred the mail (Remote-MTA, Diagnostic-Code), and the record keeps it', async (t) => {
  let up = false;
  const h = new Harness(t, {
    params: { delay_warning_time: '1s' },
    answer: () => (up ? { state: 'delivered' } : { state: 'deferred', dsn: '4.3.2', reason: 'host x.example[127.0.0.1] said: 451 4.3.2 not now', reply: '451 4.3.2 not now' }),
  });
  const m = h.arrive(message(['a@x.example'], { arrivalTime: Date.now() - 10_000 }));
  await waitFor(() => h.notices.some((n) => n.kind === 'delay'), 5000, 'the delay notice');
  up = true;
  const delay = h.notices.find((n) => n.kind === 'delay')!;
  assert.equal(delay.recipients[0].relay, 'x.example[127.0.0.1]:25');
  assert.equal(delay.recipients[0].reply, '451 4.3.2 not now');
  const marked = h.records.find((r) => r.outcomes.some((o) => o.delayNotified === true))!;
  assert.equal(marked.outcomes[0].relay, 'x.example[127.0.0.1]:25');
  await waitFor(() => logged(`${m.queueId}: removed`).length === 1, 5000, 'removed');
});

test('success notices: none for a next hop that took NOTIFY, "relayed" for one without DSN, "delivered" otherwise', async (t) => {
  const h = new Harness(t, {
    answer: (address) =>
      address.startsWith('passed') ? { state: 'delivered', action: 'relayed', notifyPassed: true }
      : address.startsWith('relayed') ? { state: 'delivered', action: 'relayed' }
      : { state: 'delivered' },
  });
  const m = h.arrive(message([
    { address: 'passed@x.example', notify: notify('SUCCESS') },
    { address: 'relayed@x.example', notify: notify('SUCCESS') },
    { address: 'final@y.example', notify: notify('SUCCESS') },
  ]));
  await waitFor(() => logged(`${m.queueId}: removed`).length === 1, 5000, 'removed');
  const success = h.notices.filter((n) => n.kind === 'success');
  const listed = success.flatMap((n) => n.recipients.map((r, k) => [n.addresses[k], r.action ?? 'delivered']));
  assert.deepEqual(listed.sort(), [['final@y.example', 'delivered'], ['relayed@x.example', 'relayed']]);
});

test('an injected clock drives backoff: mail comes due when the clock passes its next attempt', async (t) => {
  let clock = 1_000_000_000_000;
  const h = new Harness(t, {
    params: { minimal_backoff_time: '1h', maximal_backoff_time: '2h', queue_run_delay: '1h' },
    now: () => clock,
    answer: (_a, _c, attempt) => (attempt === 1 ? { state: 'deferred', reason: 'try later' } : { state: 'delivered' }),
  });
  const m = h.arrive(message(['a@x.example'], { arrivalTime: clock }));
  await waitFor(() => h.state(m.queueId, 0) === 'deferred', 2000, 'deferred');
  const d = h.records[0].outcomes[0];
  assert.equal(d.nextAttempt, clock + 3600_000);
  await waitFor(() => h.scheduler.load().deferred === 1, 2000, 'in the deferred queue');
  assert.equal(h.scheduler.scan(), 0);
  clock += 3600_000;
  assert.equal(h.scheduler.scan(), 1);
  await waitFor(() => h.state(m.queueId, 0) === 'delivered', 2000, 'delivered');
});

test('hostile dependencies: a garbled agent reply, a failing resolver and a failing journal write defer, then deliver', async (t) => {
  const { Scheduler } = await import('../../../src/actors/qmgr/qmgr-scheduler.js');
  const { Logger } = await import('../../../src/util/log.js');
  const { config } = await import('./qmgr-harness.js');
  let resolves = 0;
  let delivers = 0;
  let writes = 0;
  const journal: Array<{ index: number; state: string; reason: string }> = [];
  const s = new Scheduler({
    config: config(),
    log: new Logger('qmgr', 'hostile'),
    resolve: async (address) => {
      if (address.startsWith('r') && resolves++ === 0) throw new Error('resolver gone');
      return { addressClass: 'default', transport: 'smtp', nexthop: 'x.example', recipient: address };
    },
    deliver: async (_t, req) => {
      // First a reply without outcomes, then proper ones.
      if (delivers++ === 0) return { nonsense: true } as never;
      return { outcomes: req.recipients.map((r) => ({ index: r.index, state: 'delivered' as const, dsn: '2.0.0', reason: 'ok', relay: 'x' })), connectSeconds: 0, transmitSeconds: 0 };
    },
    recordOutcomes: async (_id, outcomes) => {
      if (writes++ === 2) throw new Error('disk full');
      for (const o of outcomes) journal.push({ index: o.index, state: o.state, reason: o.reason });
      const done = new Set(journal.filter((j) => j.state === 'delivered').map((j) => j.index));
      return { finished: done.size === 2 };
    },
    notify: async () => ({}),
  });
  t.after(() => s.stop());
  const m = message(['a@x.example', 'r@x.example']);
  s.arrived(m);
  await waitFor(() => logged(`${m.queueId}: removed`).length === 1, 8000, 'removed');
  assert.ok(journal.some((j) => j.index === 0 && j.state === 'deferred' && j.reason === 'unknown mail transport error'));
  assert.ok(logged('resolve r@x.example: resolver gone').length === 1);
  assert.ok(logged('cannot record delivery status: disk full').length === 1);
  assert.deepEqual([...new Set(journal.filter((j) => j.state === 'delivered').map((j) => j.index))].sort(), [0, 1]);
});

test('a message compaction relocated is retried at its new location', async (t) => {
  const h = new Harness(t, {
    answer: (_a, _c, attempt) => (attempt === 1 ? { state: 'deferred', dsn: '4.2.0', reason: '451 4.2.0 try later' } : { state: 'delivered' }),
  });
  const m = h.arrive(message(['a@x.example']));
  await waitFor(() => h.callsTo('x.example').length === 1, 5000, 'the first attempt');
  const moved = { segment: 7, offset: 4096, length: 100 };
  h.scheduler.relocated([{ queueId: m.queueId, location: moved }, { queueId: 'NOTKNOWN', location: moved }]);
  await waitFor(() => h.state(m.queueId, 0) === 'delivered', 5000, 'delivered');
  const calls = h.callsTo('x.example');
  assert.deepEqual(calls[0].location, { segment: 1, offset: 0, length: 100 });
  assert.deepEqual(calls[1].location, moved, 'the retry reads the content where compaction put it');
});
