/**
 * startup-gc: an idle thread's one collection after start gives memory
 * back; a busy thread is left alone; without `gc` exposed nothing happens
 * and nothing throws. Each case is a fresh process (V8 flags are
 * process-wide).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const PROBE = fileURLToPath(new URL('./fixtures/startup-gc-probe.js', import.meta.url));

function probe(mode: string): { collected: boolean; before: number; after: number } {
  return JSON.parse(execFileSync(process.execPath, [PROBE, mode], { encoding: 'utf8', timeout: 60_000 }).trim()) as { collected: boolean; before: number; after: number };
}

test('an idle thread collects once after start, and its heap shrinks', () => {
  const r = probe('idle');
  assert.equal(r.collected, true);
  assert.ok(r.after < r.before * 0.75, `heap ${r.before} -> ${r.after} bytes`);
});

test('a thread busy when the moment comes is left to the memory reducer', () => {
  assert.equal(probe('busy').collected, false);
});

test('without gc exposed the collection is skipped without an error', () => {
  assert.equal(probe('unexposed').collected, false);
});
