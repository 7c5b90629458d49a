/**
 * The SMTP fuzzer's bounded run in the suite: 150 fuzzed sessions from a
 * fixed campaign seed against the real daemon relaying to a sink. The
 * daemon must not exit or restart an actor, must answer every complete
 * command with a well-formed reply, must answer a fresh session after each
 * case, must log no internal error, and must deliver (or bounce) every
 * message it said 250 to; and the semantic oracles (limits, 8-bit
 * addresses, unknown parameters, reply counts, STARTTLS) must hold. A
 * failure names the seed that replays it: `npm run fuzz -- --replay SEED
 * --profile suite`.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { runSmtpFuzz, type FuzzReport } from '../../perf/fuzz/smtp-fuzz.js';

/** Fixed, so the suite plays the same 150 cases every time. */
const CAMPAIGN_SEED = 0x5eed0001;
let report: FuzzReport;

before(async () => {
  // a stall is judged after 5 s here (10 s in campaigns) and the run stops at 2.5 minutes, so a broken build fails in bounded time
  report = await runSmtpFuzz({ seed: CAMPAIGN_SEED, cases: 150, minutes: 2.5, profile: 'suite', shrink: false, stallMs: 5000, drainTimeoutMs: 45_000 });
}, { timeout: 300_000 });

function failures(kinds: string[]): string {
  return report.failures
    .filter((g) => kinds.includes(g.kind))
    .map((g) => `[${g.kind}] ${g.what} x${g.count}, seeds ${g.seeds.join(' ')}: ${g.first.detail.slice(0, 200)}`)
    .join('\n');
}

test('150 fuzzed sessions: no crash, no hang, well-formed replies, no stall, no internal error', () => {
  const kinds = ['crash', 'hang', 'malformed', 'stall', 'internal-error'];
  assert.equal(kinds.reduce((n, k) => n + report.counts[k as keyof FuzzReport['counts']], 0), 0, failures(kinds));
  assert.equal(report.daemonExits, 0);
  assert.equal(report.restarts, 0);
  assert.equal(report.cases, 150, `only ${report.cases} cases ran in 2.5 minutes`);
});

test('150 fuzzed sessions: every message that got 250 reaches the sink, delivered or bounced', () => {
  assert.ok(report.accepted > 20, `only ${report.accepted} messages accepted: the cases no longer exercise delivery`);
  assert.equal(report.lost + report.stuck, 0, failures(['lost', 'stuck']));
  assert.equal(report.delivered + report.bounced, report.accepted);
});

test('150 fuzzed sessions: the semantic oracles hold (limits, 8-bit addresses, unknown parameters, reply counts, STARTTLS)', () => {
  assert.equal(report.counts.protocol, 0, failures(['protocol']));
});
