/** qmgr-lanes: a destination limit split over agent threads, and the order lanes fill in. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { laneQuota, pickLane } from '../../../src/actors/qmgr/qmgr-lanes.js';

test('the lanes\' shares sum to the limit, and differ by at most one', () => {
  for (let limit = 1; limit <= 40; limit++) {
    for (let lanes = 1; lanes <= 9; lanes++) {
      const shares = Array.from({ length: lanes }, (_, i) => laneQuota(limit, lanes, i));
      assert.equal(shares.reduce((a, b) => a + b, 0), limit, `limit ${limit} over ${lanes}`);
      assert.ok(Math.max(...shares) - Math.min(...shares) <= 1, `limit ${limit} over ${lanes}: ${shares.join(',')}`);
    }
  }
});

test('lanes fill in order from the start, round, and none is free once every share is taken', () => {
  const busy = [0, 0, 0];
  const take = (): number => {
    const lane = pickLane(7, 3, 2, (l) => busy[l]);
    if (lane >= 0) busy[lane]++;
    return lane;
  };
  // Shares of 7 over 3, counted from lane 2: three for lane 2, two for lane 0, two for lane 1.
  assert.deepEqual(Array.from({ length: 8 }, take), [2, 2, 2, 0, 0, 1, 1, -1]);
  busy[0]--;
  assert.equal(take(), 0, 'a freed slot is taken again');
});

test('a limit below the number of lanes: the destination\'s own first lane, then the next, and no further', () => {
  const busy = [0, 0, 0, 0];
  assert.equal(pickLane(1, 4, 2, (l) => busy[l]), 2, 'a limit of one keeps to the destination\'s own lane');
  busy[2] = 1;
  assert.equal(pickLane(1, 4, 2, (l) => busy[l]), -1);
  assert.equal(pickLane(2, 4, 2, (l) => busy[l]), 3, 'a limit of two spills onto the next lane');
  busy[3] = 1;
  assert.equal(pickLane(2, 4, 2, (l) => busy[l]), -1);
});
