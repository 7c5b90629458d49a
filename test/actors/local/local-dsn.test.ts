/** local-dsn: RFC 3461 6.2 for a local expansion, as Postfix's local(8). */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { expandedOutcome, notifyForExpansion } from '../../../src/actors/local/local-dsn.js';

test('the expansions inherit NOTIFY without SUCCESS, NEVER when SUCCESS was all, and anything else unchanged', () => {
  assert.deepEqual(notifyForExpansion(['SUCCESS', 'FAILURE', 'DELAY']), ['FAILURE', 'DELAY']);
  assert.deepEqual(notifyForExpansion(['SUCCESS']), ['NEVER']);
  assert.deepEqual(notifyForExpansion(['NEVER']), ['NEVER']);
  assert.equal(notifyForExpansion(undefined), undefined);
});

test('"expanded" only for an expanded recipient that asked NOTIFY=SUCCESS, and not for an owner- list', () => {
  assert.deepEqual(expandedOutcome(true, false, ['SUCCESS']), { action: 'expanded', dsn: '2.0.0', reason: 'alias expanded' });
  assert.equal(expandedOutcome(false, false, ['SUCCESS']), undefined);
  assert.equal(expandedOutcome(true, false, ['FAILURE']), undefined);
  assert.equal(expandedOutcome(true, true, ['SUCCESS']), undefined);
});
