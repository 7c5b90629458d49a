/**
 * Actor threads start with a 64 MiB old generation (worker-heap): a thread
 * that keeps 30 MB runs no mark-compact on the way, where V8's default start
 * runs several; an operator's own --initial-old-space-size is left as given.
 * Each case is a fresh process, since the flag is process-wide.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { operatorSetsOldSpace } from '../../src/supervisor/worker-heap.js';

const PROBE = fileURLToPath(new URL('./fixtures/heap-probe.js', import.meta.url));

function markCompacts(nodeArgs: string[], mode: string): number {
  return Number(execFileSync(process.execPath, [...nodeArgs, PROBE, mode], { encoding: 'utf8', timeout: 60_000 }).trim());
}

test('a thread started after configureWorkerHeaps grows to 30 MB without a mark-compact; by default it runs some', () => {
  assert.equal(markCompacts([], 'configured'), 0);
  assert.ok(markCompacts([], 'default') > 0, 'the default start collects on the way (the probe would prove nothing otherwise)');
});

test("the operator's --initial-old-space-size wins over the supervisor's", () => {
  assert.ok(markCompacts(['--initial-old-space-size=8'], 'configured') > 0);
  assert.equal(operatorSetsOldSpace({}, ['--initial-old-space-size=8']), true);
  assert.equal(operatorSetsOldSpace({ NODE_OPTIONS: '--max-old-space-size=900 --initial_old_space_size=20' }, []), true);
  assert.equal(operatorSetsOldSpace({ NODE_OPTIONS: '--max-old-space-size=900' }, ['--enable-source-maps']), false);
});
