/**
 * The watchdog tells a busy thread from a dead one: a thread blocked while
 * its CPU time advances is left to finish (with a warning), a thread
 * blocked without CPU progress is killed after the missed heartbeats and
 * restarted, and a busy thread that outlasts supervisor_busy_timeout is
 * killed too. Real worker threads, real blocking.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import { waitFor } from '../helpers/send-mail.js';
import { makeConfig, readLog, service, tempDir, testRegistry } from './harness.js';

const tmp = tempDir();
let sup: Supervisor;

before(async () => {
  const config = makeConfig(tmp.dir, [service('echo', 'echo', { maxproc: 1 })], { supervisor_restart_limit: '50' });
  // Dead after 4 x 200 ms without CPU progress; busy allowed 6 s.
  sup = new Supervisor({ config, registry: testRegistry({ spare: true }), controlSocket: false, heartbeatMs: 200, missedHeartbeats: 4, busyTimeoutMs: 6000 });
  await sup.start();
});

after(async () => {
  await sup.stop();
  tmp.cleanup();
});

async function echoThread(): Promise<number> {
  return ((await sup.callActor('echo', 'whoami', {}, { timeoutMs: 10_000 })) as { threadId: number }).threadId;
}

test('a thread busy for longer than the missed heartbeats is not killed: its CPU time advances', async () => {
  const thread = await echoThread();
  let restarted = false;
  const onRestart = (): void => {
    restarted = true;
  };
  sup.on('restart', onRestart);
  try {
    // 3 s of work: fifteen heartbeats unanswered, far past the 800 ms that make a silent thread dead.
    const r = (await sup.callActor('echo', 'spin', { ms: 3000 }, { timeoutMs: 10_000 })) as { spun: number };
    assert.ok(r.spun > 0);
    assert.equal(await echoThread(), thread, 'the same thread serves');
    assert.equal(restarted, false);
    assert.match(readLog(tmp.dir), /warning: process echo pid \d+: busy, not answering for [\d.]+ s; its CPU time advances, so it is left to finish/);
    // The next heartbeat sees it answer again.
    await waitFor(() => /process echo pid \d+: answering again after [\d.]+ s busy/.test(readLog(tmp.dir)), 5000, 'the all-clear');
  } finally {
    sup.off('restart', onRestart);
  }
});

test('a thread blocked without CPU progress is dead: killed after the missed heartbeats and restarted', async () => {
  const thread = await echoThread();
  await sup.sparesLoaded();
  const restarted = once(sup, 'restart');
  const frozen = sup.callActor('echo', 'freeze', {}, { timeoutMs: 30_000 });
  await assert.rejects(frozen, { code: 'ERR_PEER_DOWN' });
  await restarted;
  assert.notEqual(await echoThread(), thread, 'a new thread serves');
  assert.match(readLog(tmp.dir), /warning: process echo pid \d+: not responding \(\d+ heartbeats missed, no CPU progress\); killed/);
});

test('a thread busy past supervisor_busy_timeout is killed and restarted', async () => {
  const thread = await echoThread();
  await sup.sparesLoaded();
  const restarted = once(sup, 'restart');
  const spinning = sup.callActor('echo', 'spin', { ms: 60_000 }, { timeoutMs: 90_000 });
  await assert.rejects(spinning, { code: 'ERR_PEER_DOWN' });
  await restarted;
  assert.notEqual(await echoThread(), thread);
  assert.match(readLog(tmp.dir), /warning: process echo pid \d+: not responding for [\d.]+ s while busy \(supervisor_busy_timeout\); killed/);
});
