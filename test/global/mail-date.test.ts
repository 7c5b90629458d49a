/**
 * mail-date: Postfix's mail_date form in a zone other than UTC, and the
 * GMT stamp of generated Message-IDs.
 */
process.env.TZ = 'America/New_York';
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gmtStamp, mailDate } from '../../src/global/mail-date.js';

test('mailDate writes local time with numeric zone and zone name, day space-padded as %e', () => {
  assert.equal(mailDate(Date.UTC(2026, 0, 5, 14, 3, 9)), 'Mon,  5 Jan 2026 09:03:09 -0500 (EST)');
  assert.equal(mailDate(Date.UTC(2026, 6, 15, 4, 0, 0)), 'Wed, 15 Jul 2026 00:00:00 -0400 (EDT)');
});

test('gmtStamp is YYYYMMDDHHMMSS in GMT whatever the local zone', () => {
  assert.equal(gmtStamp(Date.UTC(2026, 0, 5, 2, 3, 9)), '20260105020309');
});
