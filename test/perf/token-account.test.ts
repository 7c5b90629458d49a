import { test } from 'node:test';
import assert from 'node:assert/strict';
import { accountTokens } from '../../perf/harness/token-account.js';

test('every accepted token received once: nothing lost, duplicated or unexpected', () => {
  const a = accountTokens(['r.0', 'r.1', 'r.2'], new Map([['r.0', 1], ['r.1', 1], ['r.2', 1]]));
  assert.deepEqual(a, { accepted: 3, delivered: 3, lost: [], duplicated: [], unexpected: [] });
});

test('an accepted token the sink never saw is lost', () => {
  const a = accountTokens(['r.0', 'r.1', 'r.2'], new Map([['r.0', 1], ['r.2', 1]]));
  assert.equal(a.delivered, 2);
  assert.deepEqual(a.lost, ['r.1']);
  assert.deepEqual(a.duplicated, []);
});

test('a token received more than once is listed once as duplicated, and still counts as delivered', () => {
  const a = accountTokens(['r.0', 'r.1'], new Map([['r.0', 3], ['r.1', 1]]));
  assert.deepEqual(a.duplicated, ['r.0']);
  assert.equal(a.delivered, 2);
  assert.deepEqual(a.lost, []);
});

test('a token the generator had no 250 for is unexpected (and duplicated too when seen twice)', () => {
  const a = accountTokens(['r.0'], new Map([['r.0', 1], ['r.9', 2]]));
  assert.deepEqual(a.unexpected, ['r.9']);
  assert.deepEqual(a.duplicated, ['r.9']);
  assert.equal(a.accepted, 1);
  assert.equal(a.delivered, 1);
});

test('a zero count in the map is not a delivery', () => {
  const a = accountTokens(['r.0'], new Map([['r.0', 0], ['r.5', 0]]));
  assert.deepEqual(a.lost, ['r.0']);
  assert.deepEqual(a.unexpected, []);
  assert.equal(a.delivered, 0);
});

test('empty inputs and any iterable of accepted tokens', () => {
  assert.deepEqual(accountTokens([], new Map()), { accepted: 0, delivered: 0, lost: [], duplicated: [], unexpected: [] });
  const gen = (function* () { yield 'x.1'; yield 'x.2'; })();
  const a = accountTokens(gen, new Map([['x.2', 1]]));
  assert.equal(a.accepted, 2);
  assert.deepEqual(a.lost, ['x.1']);
});
