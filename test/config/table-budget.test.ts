/**
 * The time budget of backtracking patterns: a scope interrupts a running
 * regular expression when its time is spent and fails with
 * TableLookupError naming the rule that ran; other errors pass unchanged;
 * an inner scope runs under the outer one's budget.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { TableLookupError } from '../../src/config/table-lookup-error.js';
import { inMatchBudget, noteRunningRule, withMatchBudget } from '../../src/config/table-budget.js';

// Exponential on a backtracking engine: 2^40 ways to split the a's before the "!" fails.
const SLOW = /^(a+)+\1$/i;
const HOSTILE = 'a'.repeat(40) + '!';

test('a backtracking match that outlives the budget is interrupted and fails the lookup, naming the rule', () => {
  assert.throws(
    () =>
      withMatchBudget(50, () => {
        noteRunningRule('pcre map /etc/slow, line 3');
        return SLOW.test(HOSTILE);
      }),
    (err: unknown) => {
      assert.ok(err instanceof TableLookupError);
      assert.equal(err.code, 'ERR_TABLE_LOOKUP');
      assert.equal(err.message, 'pcre map /etc/slow, line 3: match time limit of 50 ms exceeded');
      return true;
    },
  );
  assert.equal(inMatchBudget(), false, 'the scope is closed after the failure');
  assert.equal(withMatchBudget(50, () => SLOW.test('aa')), true, 'the same expression works again afterwards');
});

test('work that finishes in time returns its value; its own errors pass through unchanged', () => {
  assert.equal(withMatchBudget(1000, () => inMatchBudget()), true);
  const mine = new RangeError('mine');
  assert.throws(() => withMatchBudget(1000, () => {
    throw mine;
  }), (err: unknown) => err === mine);
});

test('an inner scope runs under the outer budget, not a fresh one', () => {
  assert.throws(
    () => withMatchBudget(50, () => withMatchBudget(60_000, () => SLOW.test(HOSTILE))),
    { code: 'ERR_TABLE_LOOKUP', message: /match time limit of 50 ms exceeded/ },
  );
});
