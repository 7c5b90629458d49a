/**
 * anvil-table: the counters of the anvil actor. Connections are counted
 * per (service, client) and released by the owner thread's id for them;
 * a thread that is gone releases what it held; a disconnect for a
 * connection the table never counted (a restarted anvil) changes nothing,
 * and neither does a second one; windows reset every rate.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { AnvilTable } from '../../src/global/anvil-table.js';

test('connections from two owner threads count as one client; dropOwner releases one thread\'s', () => {
  const t = new AnvilTable(60_000);
  assert.deepEqual(t.connect('smtp', '192.0.2.1', 1, 1), { count: 1, rate: 1 });
  assert.deepEqual(t.connect('smtp', '192.0.2.1', 2, 1), { count: 2, rate: 2 });
  assert.deepEqual(t.connect('smtp', '192.0.2.1', 2, 2), { count: 3, rate: 3 });
  assert.deepEqual(t.connect('submission', '192.0.2.1', 2, 3), { count: 1, rate: 1 }, 'per service');
  assert.equal(t.dropOwner(2), 3, 'thread 2 held three connections');
  assert.equal(t.open('smtp', '192.0.2.1'), 1, 'thread 1 still holds one');
  assert.equal(t.open('submission', '192.0.2.1'), 0);
  assert.equal(t.dropOwner(2), 0, 'nothing left to release');
  t.disconnect('smtp', '192.0.2.1', 2, 1);
  assert.equal(t.open('smtp', '192.0.2.1'), 1, 'a disconnect of a released connection changes nothing');
  t.disconnect('smtp', '192.0.2.1', 1, 1);
  t.disconnect('smtp', '192.0.2.1', 1, 1);
  assert.equal(t.open('smtp', '192.0.2.1'), 0);
});

test('a disconnect for a connection this table never counted (anvil restarted since) changes nothing', () => {
  const t = new AnvilTable(60_000);
  t.connect('smtp', '192.0.2.9', 7, 1);
  t.disconnect('smtp', '192.0.2.9', 7, 99);
  t.disconnect('smtp', '192.0.2.9', 8, 1);
  assert.equal(t.open('smtp', '192.0.2.9'), 1);
  t.disconnect('smtp', '192.0.2.9', 7, 1);
  assert.equal(t.open('smtp', '192.0.2.9'), 0);
});

test('rates reset with the window; the time unit can change in place (reload)', () => {
  let now = 0;
  const t = new AnvilTable(1000, () => now);
  assert.equal(t.event('smtp', '192.0.2.1', 'mail'), 1);
  assert.equal(t.event('smtp', '192.0.2.1', 'mail'), 2);
  assert.equal(t.event('smtp', '192.0.2.1', 'rcpt'), 1);
  now = 1000;
  assert.equal(t.event('smtp', '192.0.2.1', 'mail'), 1, 'a new window');
  t.unitMs = 10_000;
  now = 5000;
  assert.equal(t.event('smtp', '192.0.2.1', 'mail'), 2, 'the longer unit keeps the window open');
  assert.equal(t.event('smtp', '192.0.2.1', 'auth'), 1);
});

test('holdsState: true while a connection is open or a rate window runs, false once both are over', () => {
  let now = 1_000;
  const t = new AnvilTable(60_000, () => now);
  assert.equal(t.holdsState(), false, 'an empty table');
  t.connect('smtp', '192.0.2.1', 1, 1);
  now += 120_000;
  assert.equal(t.holdsState(), true, 'an open connection, whatever the window');
  t.disconnect('smtp', '192.0.2.1', 1, 1);
  assert.equal(t.holdsState(), false, 'closed, and its window is over');
  t.event('smtp', '192.0.2.2', 'mail');
  now += 30_000;
  assert.equal(t.holdsState(), true, 'a rate window still runs');
  now += 30_000;
  assert.equal(t.holdsState(), false, 'the window ended');
});
