/** Maybe: answers at hand stay synchronous, a promise carries the rest of the chain, in order. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { andThen, firstDefined, type Maybe } from '../../src/util/maybe.js';

/** The checks themselves as the items, each run as it is reached. */
const run = <T>(checks: Array<() => Maybe<T | undefined>>): Maybe<T | undefined> => firstDefined(checks, (c) => c());

test('andThen applies at once to a value and later to a promise', async () => {
  assert.equal(andThen(2, (v) => v * 3), 6);
  const later = andThen(Promise.resolve(2), (v) => v * 3);
  assert.ok(later instanceof Promise);
  assert.equal(await later, 6);
});

test('firstDefined runs the checks in order, stops at the first answer, and waits only from the first promise on', async () => {
  const ran: number[] = [];
  const check = (n: number, answer: string | undefined, wait = false) => () => {
    ran.push(n);
    return wait ? Promise.resolve(answer) : answer;
  };
  assert.equal(run([check(1, undefined), check(2, 'b'), check(3, 'c')]), 'b');
  assert.deepEqual(ran, [1, 2]);

  ran.length = 0;
  assert.equal(run([check(1, undefined), check(2, undefined)]), undefined);
  assert.deepEqual(ran, [1, 2]);

  ran.length = 0;
  const waited = run([check(1, undefined), check(2, undefined, true), check(3, undefined), check(4, 'd', true), check(5, 'e')]);
  assert.ok(waited instanceof Promise);
  assert.deepEqual(ran, [1, 2], 'nothing after the waiting check runs before it answers');
  assert.equal(await waited, 'd');
  assert.deepEqual(ran, [1, 2, 3, 4]);

  const failing = run([() => Promise.reject(new Error('lookup failed')), check(9, 'never')]);
  await assert.rejects(failing as Promise<unknown>, /lookup failed/);
});
