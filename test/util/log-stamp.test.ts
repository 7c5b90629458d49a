/**
 * The log line's time stamp, made once per second, reads as the stamp made
 * afresh for every line would: across seconds, minutes, a day and the
 * spring-forward hour of a zone with summer time.
 */
process.env.TZ = 'Europe/Berlin';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { syslogTime, syslogTimeNow } from '../../src/util/log.js';

test('syslogTimeNow gives syslogTime of its second, a summer-time change included', () => {
  // 2026-03-29 01:00 UTC: Berlin goes from 01:59:59 CET to 03:00:00 CEST.
  const start = Date.UTC(2026, 2, 29, 0, 59, 58);
  for (let t = start; t < start + 5_000; t += 250) {
    assert.equal(syslogTimeNow(t), syslogTime(new Date(Math.floor(t / 1000) * 1000)), new Date(t).toISOString());
  }
  assert.equal(syslogTimeNow(Date.UTC(2026, 2, 29, 0, 59, 59, 900)), 'Mar 29 01:59:59');
  assert.equal(syslogTimeNow(Date.UTC(2026, 2, 29, 1, 0, 0, 100)), 'Mar 29 03:00:00');
  // A day's end, and a single-digit day padded as Postfix pads it.
  assert.equal(syslogTimeNow(Date.UTC(2026, 11, 4, 22, 59, 59, 999)), 'Dec  4 23:59:59');
  assert.equal(syslogTimeNow(Date.UTC(2026, 11, 4, 23, 0, 0, 0)), 'Dec  5 00:00:00');
  // Back to an earlier second: a new stamp, not the cached one.
  assert.equal(syslogTimeNow(Date.UTC(2026, 11, 4, 22, 59, 59, 0)), 'Dec  4 23:59:59');
});
