/**
 * The body-check pool gives every task a deadline: a task stuck in a match
 * that never ends resolves { timeout } at the deadline, its thread is
 * terminated (it burns no more CPU) and replaced, and the next tasks are
 * served. Real piscina threads, a real pcre table with a backreference.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BodyCheckPool } from '../../src/cleanup/cleanup-body-pool.js';
import type { BodyTask } from '../../src/cleanup/cleanup-body-worker.js';

let dir: string;
let pool: BodyCheckPool;

before(() => {
  dir = mkdtempSync(join(tmpdir(), 'body-pool-'));
  // A backreference: RE2 cannot run it, so it runs on the backtracking engine, exponential on "aaaa...!".
  writeFileSync(join(dir, 'body_checks'), '/^(a+)+\\1$/ REJECT stuck\n/^plain spam$/ REJECT spam\n');
  pool = new BodyCheckPool(2);
});

after(async () => {
  await pool.close();
  rmSync(dir, { recursive: true, force: true });
});

function task(bodyLine: string): BodyTask {
  const content = Buffer.from(`Subject: x\r\n\r\n${bodyLine}\r\n`);
  return {
    content,
    bodyStart: content.indexOf('\r\n\r\n') + 4,
    contentType: '',
    bodyChecks: 'pcre:body_checks',
    mimeHeaderChecks: '',
    nestedHeaderChecks: '',
    lineLength: 2048,
    dir,
    bodySizeLimit: 51200,
    nestingLimit: 100,
    reportNesting: false,
  };
}

const HOSTILE = 'a'.repeat(40) + '!';

test('two stuck tasks time out, their threads end, and later tasks get their answers', async () => {
  assert.deepEqual(await pool.run(task('plain spam'), 10_000), { events: [{ verb: 'REJECT', text: 'spam', where: 'body', line: 'plain spam', map: 'body_checks', start: 14, end: 26 }] });
  const stuck = [pool.run(task(HOSTILE), 1500), pool.run(task(HOSTILE), 1500)];
  // Both threads are now inside the match; note them to see them end.
  await new Promise((r) => setTimeout(r, 300));
  const before = [...pool.threads()];
  assert.equal(before.length, 2);
  const exited = before.map((w) => once(w, 'exit'));
  const later = pool.run(task('plain spam'), 10_000);
  assert.deepEqual(await Promise.all(stuck), [{ timeout: true }, { timeout: true }]);
  await Promise.all(exited);
  const answer = await later;
  assert.ok('events' in answer && answer.events[0]?.text === 'spam', JSON.stringify(answer));
  assert.ok(pool.threads().every((w) => !before.includes(w)), 'the stuck threads were replaced');
});
