/** dsn-status: the one decision of soft (4.x.y) versus hard status codes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { failureState, isSoftDsn, softDsn } from '../../src/global/dsn-status.js';

test('a 4.x.y status defers; 5.x.y (and anything else) bounces', () => {
  assert.equal(isSoftDsn('4.4.1'), true);
  assert.equal(isSoftDsn('5.1.1'), false);
  assert.equal(failureState('4.7.1'), 'deferred');
  assert.equal(failureState('5.7.1'), 'bounced');
  assert.equal(failureState('2.0.0'), 'bounced');
});

test('softDsn turns 5.x.y into 4.x.y and leaves every other status alone', () => {
  assert.equal(softDsn('5.7.1'), '4.7.1');
  assert.equal(softDsn('5.1.10'), '4.1.10');
  assert.equal(softDsn('4.4.2'), '4.4.2');
  assert.equal(softDsn('2.0.0'), '2.0.0');
});
