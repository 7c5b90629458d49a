/**
 * A thread's log file sink: a quiet thread's line is in the file at the end
 * of the turn that logged it; a thread that logs in every turn writes at
 * about once per interval, every line kept and in order; flush() writes at
 * once whatever is pending.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as turn, setTimeout as sleep } from 'node:timers/promises';
import { BufferedSink } from '../../src/util/log.js';
import { LOG_WRITE_INTERVAL_MS } from '../../src/util/log-pacer.js';

function withFile(fn: (file: string) => Promise<void>): () => Promise<void> {
  return async () => {
    const dir = mkdtempSync(join(tmpdir(), 'log-pacer-'));
    try {
      await fn(join(dir, 'maillog'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  };
}

const lines = (file: string): string[] => readFileSync(file, 'utf8').split('\n').filter(Boolean);

test('a quiet thread writes its line at the end of the turn', withFile(async (file) => {
  const sink = new BufferedSink(file);
  await sleep(LOG_WRITE_INTERVAL_MS * 2);
  sink.write('one');
  assert.deepEqual(lines(file), [], 'not written inside the turn');
  await turn();
  assert.deepEqual(lines(file), ['one']);
  assert.equal(sink.pacer.writes, 1);
}));

test('a thread logging in every turn writes once per interval, every line in order', withFile(async (file) => {
  const sink = new BufferedSink(file);
  const started = performance.now();
  let n = 0;
  while (performance.now() - started < LOG_WRITE_INTERVAL_MS * 50) {
    sink.write(`line ${n++}`);
    await turn();
  }
  sink.flush();
  const elapsed = performance.now() - started;
  assert.ok(n > 200, `the loop turned ${n} times`);
  assert.deepEqual(lines(file), Array.from({ length: n }, (_, i) => `line ${i}`));
  // About one write per interval (timers fire on whole milliseconds), never one per turn.
  const most = Math.ceil(elapsed / Math.min(1, LOG_WRITE_INTERVAL_MS)) + 2;
  assert.ok(sink.pacer.writes <= most, `${sink.pacer.writes} writes for ${n} lines in ${elapsed.toFixed(0)} ms (at most ${most})`);
  assert.ok(sink.pacer.writes * 10 < n, `${sink.pacer.writes} writes for ${n} lines`);
}));

test('flush writes what is pending at once, and a scheduled write then finds nothing', withFile(async (file) => {
  const sink = new BufferedSink(file);
  sink.write('first');
  sink.write('second');
  sink.flush();
  assert.deepEqual(lines(file), ['first', 'second']);
  sink.write('third');
  sink.flush();
  await sleep(LOG_WRITE_INTERVAL_MS * 2);
  assert.deepEqual(lines(file), ['first', 'second', 'third']);
  assert.equal(sink.pacer.writes, 2);
}));
