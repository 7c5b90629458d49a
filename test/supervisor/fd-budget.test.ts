/**
 * fd-budget: the open-file limit as the process has it (read in a child
 * started under `ulimit -n`), and its division into the threads' own, the
 * reserve and the sessions of each SMTP listener.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { fdBudget, openFileCount, PER_THREAD_FDS, SESSION_CAP_SLACK } from '../../src/supervisor/fd-budget.js';

const MODULE = fileURLToPath(new URL('../../src/supervisor/fd-budget.js', import.meta.url));

test('openFileLimit reads the soft limit the process runs under; openFileCount counts its descriptors', () => {
  const script = `import(${JSON.stringify(MODULE)}).then((m) => console.log(m.openFileLimit()))`;
  const out = execFileSync('sh', ['-c', 'ulimit -n 300 && exec "$0" "$@"', process.execPath, '-e', script], { encoding: 'utf8' });
  assert.equal(out.trim(), '300');
  const n = openFileCount();
  assert.ok(n !== undefined && n >= 3, `at least stdin, stdout and stderr (${n})`);
});

test('the sessions are half of what the threads and the reserve leave, shared by the listeners', () => {
  const b = fdBudget(1024, 20, 16, 2);
  assert.equal(b.inUse, 20 + 16 * PER_THREAD_FDS);
  assert.equal(b.reserve, 128 + SESSION_CAP_SLACK * 2);
  assert.equal(b.sessionCap, Math.floor((1024 - b.inUse - b.reserve) / 2 / 2));
  assert.equal(b.tooLow, false);
  // a milter per session halves what each session may take
  assert.equal(fdBudget(1024, 20, 16, 1, 2).sessionCap, Math.floor((1024 - b.inUse - (128 + SESSION_CAP_SLACK * 2)) / 2 / 2));
  // the reserve never falls below 64
  assert.equal(fdBudget(256, 20, 10, 1).reserve, 64 + SESSION_CAP_SLACK);
});

test('a limit too low for even one session per listener says so, and still lets one in', () => {
  const b = fdBudget(128, 30, 16, 1);
  assert.equal(b.tooLow, true);
  assert.equal(b.sessionCap, 1);
});
