/**
 * daemon-liveness: a pid file alone never makes a daemon; the identity or
 * an answering control socket does, and claimPidFile replaces a stale file.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { claimPidFile, daemonLiveness } from '../../src/supervisor/daemon-liveness.js';
import { controlSocketPath } from '../../src/supervisor/control-server.js';
import { pidFilePath, releasePidFile } from '../../src/supervisor/pid-file.js';
import { tempDir } from './harness.js';
import { deadSocketFile, unrelatedProcess } from '../helpers/stale-process.js';

test('a pid file naming an unrelated live process: not running, and claimPidFile takes it over', async () => {
  const t = tempDir();
  const queue = join(t.dir, 'queue');
  const sleeper = await unrelatedProcess();
  try {
    mkdirSync(join(queue, 'pid'), { recursive: true });
    writeFileSync(pidFilePath(queue), `${sleeper.pid}\n`);
    assert.deepEqual(await daemonLiveness(queue), { running: false, stale: `process ${sleeper.pid} does not serve the control socket` });
    await claimPidFile(queue);
    assert.equal(Number(readFileSync(pidFilePath(queue), 'utf8')), process.pid);
    assert.deepEqual(await daemonLiveness(queue), { running: true, pid: process.pid, proof: 'identity' });
    releasePidFile(pidFilePath(queue));
  } finally {
    sleeper.kill('SIGKILL');
    t.cleanup();
  }
});

test('a control socket that accepts proves a daemon even without a pid file; one that answers ping names its pid', async () => {
  const t = tempDir();
  const queue = join(t.dir, 'queue');
  mkdirSync(join(queue, 'private'), { recursive: true });
  const server = createServer((s) => {
    s.on('data', () => s.write(JSON.stringify({ ok: true, result: { pid: process.pid } }) + '\n'));
  });
  await new Promise<void>((r) => server.listen(controlSocketPath(queue), r));
  try {
    assert.deepEqual(await daemonLiveness(queue), { running: true, pid: process.pid, proof: 'control' });
    await assert.rejects(claimPidFile(queue), { code: 'ERR_ALREADY_RUNNING' });
  } finally {
    await new Promise((r) => server.close(r));
  }
  // the socket file left behind by a dead daemon refuses connections
  await deadSocketFile(controlSocketPath(queue));
  assert.equal(existsSync(controlSocketPath(queue)), true);
  assert.deepEqual(await daemonLiveness(queue), { running: false });
  t.cleanup();
});
