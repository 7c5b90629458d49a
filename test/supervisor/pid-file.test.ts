/**
 * pid-file: the identity written beside master.pid tells the daemon that
 * wrote it from a zombie, a reused pid and a pid that names nothing; real
 * processes (sleep, an unreaped child) stand in for each case.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { identityFilePath, isRunningProcess, pidFilePath, pidFileVerdict, processIdentity, releasePidFile, writePidFile } from '../../src/supervisor/pid-file.js';
import { tempDir } from './harness.js';
import { gonePid, unrelatedProcess, zombieProcess } from '../helpers/stale-process.js';

function writeRaw(queue: string, pid: number, identity?: string): string {
  const path = pidFilePath(queue);
  mkdirSync(join(queue, 'pid'), { recursive: true });
  writeFileSync(path, `${String(pid).padStart(10)}\n`);
  if (identity !== undefined) writeFileSync(identityFilePath(path), identity);
  return path;
}

test('the daemon that wrote the pid file is ours; release removes both files', () => {
  const t = tempDir();
  try {
    const path = pidFilePath(join(t.dir, 'queue'));
    writePidFile(path);
    assert.equal(readFileSync(path, 'utf8'), `${String(process.pid).padStart(10)}\n`, "Postfix's format: the pid alone");
    assert.deepEqual(pidFileVerdict(path), { verdict: 'ours', pid: process.pid });
    releasePidFile(path);
    assert.equal(existsSync(path), false);
    assert.equal(existsSync(identityFilePath(path)), false);
    assert.deepEqual(pidFileVerdict(path), { verdict: 'none' });
  } finally {
    t.cleanup();
  }
});

test('a live unrelated process under the recorded pid is stale when its start time differs, unproven without an identity', async () => {
  const t = tempDir();
  const sleeper = await unrelatedProcess();
  try {
    const me = processIdentity(process.pid)!;
    const path = writeRaw(join(t.dir, 'queue'), sleeper.pid!, `${sleeper.pid} ${me.startTicks} ${me.bootId}\n`);
    const v = pidFileVerdict(path);
    assert.equal(v.verdict, 'stale');
    assert.match((v as { reason: string }).reason, /another program/);
    // the same start time on another boot: a reused pid after a reboot
    const his = processIdentity(sleeper.pid!)!;
    writeFileSync(identityFilePath(path), `${sleeper.pid} ${his.startTicks} 00000000-0000-0000-0000-000000000000\n`);
    assert.equal(pidFileVerdict(path).verdict, 'stale');
    writeFileSync(identityFilePath(path), `${sleeper.pid} ${his.startTicks} ${his.bootId}\n`);
    assert.equal(pidFileVerdict(path).verdict, 'ours', 'identity matches: that process wrote it');
    writeRaw(join(t.dir, 'queue'), sleeper.pid!);
    writeFileSync(identityFilePath(path), '');
    assert.deepEqual(pidFileVerdict(path), { verdict: 'unproven', pid: sleeper.pid });
  } finally {
    sleeper.kill('SIGKILL');
    t.cleanup();
  }
});

test('a zombie and a pid that names nothing are stale, and neither counts as running', async () => {
  const t = tempDir();
  const z = await zombieProcess();
  try {
    const gone = { pid: await gonePid() };
    const path = writeRaw(join(t.dir, 'queue'), z.pid);
    assert.deepEqual(pidFileVerdict(path), { verdict: 'stale', pid: z.pid, reason: `process ${z.pid} has exited (a zombie)` });
    assert.equal(isRunningProcess(z.pid), false);
    writeRaw(join(t.dir, 'queue'), gone.pid!);
    assert.deepEqual(pidFileVerdict(path), { verdict: 'stale', pid: gone.pid, reason: `process ${gone.pid} is not running` });
    assert.equal(isRunningProcess(gone.pid!), false);
    assert.equal(isRunningProcess(process.pid), true);
  } finally {
    z.parent.kill('SIGKILL');
    t.cleanup();
  }
});
