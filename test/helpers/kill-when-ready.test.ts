/**
 * The crash children's report lines reach a parent that reads late: a full
 * pipe is waited out, not a crash (a plain writeSync there fails with
 * EAGAIN, which ended a crash test's child before its kill).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';

const CHILD = fileURLToPath(new URL('./say-lines-child.js', import.meta.url));

test('sayLine waits out a full, non-blocking pipe: every line arrives, in order, and the child exits 0', async () => {
  const count = 20_000; // about 1.9 MB, far past a pipe's buffer
  const child = spawn(process.execPath, [CHILD, String(count)], { stdio: ['ignore', 'pipe', 'pipe'] });
  let err = '';
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  const closed = new Promise<number | null>((r) => child.on('close', (c) => r(c)));
  // Nothing is read for half a second: the child's writes fill the pipe and meet EAGAIN.
  child.stdout.pause();
  await new Promise((r) => setTimeout(r, 500));
  const parts: Buffer[] = [];
  child.stdout.on('data', (b: Buffer) => parts.push(b));
  child.stdout.resume();
  const code = await closed;
  assert.equal(code, 0, err.slice(0, 300));
  const lines = Buffer.concat(parts).toString().split('\n');
  assert.equal(lines.pop(), '');
  assert.equal(lines.length, count);
  lines.forEach((l, i) => assert.ok(l.startsWith(`${i} `), `line ${i}: ${l.slice(0, 20)}`));
});
