import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatSummary, summarize } from '../../perf/harness/bench-report.js';
import type { CaseResult } from '../../perf/harness/e2e-run.js';

function result(mta: string, round: number, e2e: number, extra: Partial<CaseResult> = {}): CaseResult {
  return {
    mta, mode: 'kept', round, count: 100, size: 1024, sessions: 4, recipients: 1, accepted: 100, errors: 0, errorSamples: [],
    acceptPerSecond: e2e * 2, endToEndPerSecond: e2e, latencyMs: { p50: 1, p99: 2, p999: 3 }, lost: 0, duplicated: 0,
    unexpected: 0, delivered: 100, sinkConnections: 4, acceptSeconds: 1, endToEndSeconds: 1, ...extra,
  };
}

test('the ratio to the baseline is taken round by round, then the median', () => {
  // Round 2 is slow for both: a ratio per round is immune to it, a ratio of medians would not be.
  const cases = [
    result('postrider', 1, 1000), result('postfix', 1, 400),
    result('postfix', 2, 100), result('postrider', 2, 300),
    result('postrider', 3, 1100), result('postfix', 3, 500),
  ];
  const rows = summarize(cases, 'postfix');
  const p = rows.find((r) => r.mta === 'postrider');
  assert.ok(p);
  assert.equal(p.rounds, 3);
  assert.equal(p.endToEndPerSecond, 1000);
  assert.equal(p.ratioToBaseline, 2.5); // median of 2.5, 3, 2.2
  assert.equal(rows.find((r) => r.mta === 'postfix')?.ratioToBaseline, undefined);
  const text = formatSummary(rows, 'postfix');
  assert.match(text, /x postfix/);
  assert.match(text, /2\.50x/);
});

test('lost and duplicated add up over rounds; sizes and modes are summarized apart', () => {
  const cases = [
    result('postrider', 1, 1000, { lost: 2 }),
    result('postrider', 2, 1000, { lost: 1, duplicated: 4 }),
    result('postrider', 1, 90, { size: 65536 }),
    result('postrider', 1, 500, { mode: 'per-connection' }),
  ];
  const rows = summarize(cases);
  assert.equal(rows.length, 3);
  const kept1k = rows.find((r) => r.size === 1024 && r.mode === 'kept');
  assert.deepEqual([kept1k?.lost, kept1k?.duplicated, kept1k?.rounds], [3, 4, 2]);
  assert.equal(rows.find((r) => r.size === 65536)?.endToEndPerSecond, 90);
});
