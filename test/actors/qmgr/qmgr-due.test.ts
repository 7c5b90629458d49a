/** The deferred queue's single wake-up timer. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DueTimer } from '../../../src/actors/qmgr/qmgr-due.js';

test('hands over messages when they come due, earliest first, then nothing once empty', async (t) => {
  const fired: string[][] = [];
  const due = new DueTimer(Date.now, 10_000, (ids) => fired.push(ids));
  t.after(() => due.stop());
  const now = Date.now();
  due.set('B', now + 60);
  due.set('A', now + 20);
  due.set('C', now + 3_600_000);
  await new Promise((r) => setTimeout(r, 150));
  assert.deepEqual(fired.flat().sort(), ['A', 'B']);
  assert.equal(due.size, 1);
  assert.equal(due.has('C'), true);
  assert.ok(fired[0].includes('A'));
});

test('an injected clock: scan() picks up what is due; stop() clears the timer', () => {
  let clock = 1000;
  const fired: string[] = [];
  const due = new DueTimer(() => clock, 50, (ids) => fired.push(...ids));
  due.set('A', 5000);
  due.set('B', 9000);
  assert.deepEqual(due.scan(), []);
  clock = 6000;
  assert.deepEqual(due.scan(), ['A']);
  assert.equal(due.delete('B'), true);
  due.stop();
  due.set('C', 0);
  assert.deepEqual(fired, ['A']);
});
