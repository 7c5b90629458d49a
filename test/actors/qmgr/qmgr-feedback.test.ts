/** Destination concurrency window: slow start, halving, failed cohorts, dead and revived. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Destination } from '../../../src/actors/qmgr/qmgr-feedback.js';

const why = { reason: 'connection refused', dsn: '4.4.1' };

test('the window opens at the initial concurrency and grows by one per success up to the limit', () => {
  const d = new Destination<number>('smtp', 'x.example', 5, 8, 1);
  assert.equal(d.window, 5);
  for (let i = 0; i < 10; i++) d.success();
  assert.equal(d.window, 8);
  assert.equal(new Destination<number>('smtp', 'y.example', 5, 2, 1).window, 2);
});

test('a site failure halves the window, at least 1; at 1 failed cohorts make it dead until the backoff passes', () => {
  const d = new Destination<number>('smtp', 'x.example', 8, 20, 2);
  assert.equal(d.failure(0, 1000, why), false);
  assert.equal(d.window, 4);
  d.failure(0, 1000, why);
  d.failure(0, 1000, why);
  assert.equal(d.window, 1);
  assert.equal(d.failure(10, 1000, why), false);
  assert.equal(d.isDead(10), false);
  assert.equal(d.failure(20, 1000, why), true);
  assert.equal(d.isDead(500), true);
  assert.deepEqual(d.dead, why);
  assert.equal(d.isDead(1020), false);
  assert.equal(d.window, 8);
  assert.equal(d.failedCohorts, 0);
});

test('a success clears the failed cohort count', () => {
  const d = new Destination<number>('smtp', 'x.example', 1, 20, 2);
  d.failure(0, 1000, why);
  d.success();
  assert.equal(d.failedCohorts, 0);
  assert.equal(d.window, 2);
});

test('a success revives a dead destination', () => {
  const d = new Destination<number>('smtp', 'x.example', 1, 20, 1);
  assert.equal(d.failure(0, 1000, why), true);
  assert.equal(d.isDead(1), true);
  d.success();
  assert.equal(d.isDead(1), false);
});
