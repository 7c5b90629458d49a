/**
 * The journal fuzzer (perf/fuzz/journal-fuzz.ts), bounded: a few hundred
 * damaged journals from fixed seeds, recovered twice each. Recovery never
 * throws or hangs, every message whose record's bytes were intact comes
 * back whole, a second recovery finds nothing more, and the damage was real
 * (lengths repaired, ranges quarantined, tails cut, messages hit).
 * `npm run fuzz:journal` runs the long campaign.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { figures, runJournalFuzz } from '../../perf/fuzz/journal-fuzz.js';

for (const seed of [1, 20260501]) {
  test(`100 damaged journals from seed ${seed}: no crash, no hang, no intact message lost`, { timeout: 170_000 }, async () => {
    const r = await runJournalFuzz({ cases: 100, seed });
    const problems = r.failures.map((f) => `${f.kind} (replay: --case ${f.caseSeed}): ${f.detail.split('\n')[0]}`);
    assert.deepEqual(problems, [], figures(r));
    assert.equal(r.cases, 100);
    assert.deepEqual([r.crashes, r.hangs, r.lost, r.unstable, r.resurrected, r.phantoms], [0, 0, 0, 0, 0, 0]);
    // The damage reached recovery in every form it handles.
    assert.ok(r.damagedMessages > 0 && r.damagedMessages < r.messages, figures(r));
    assert.ok(r.repaired > 0, figures(r));
    assert.ok(r.quarantined > 0, figures(r));
    assert.ok(r.tornTails > 0, figures(r));
  });
}
