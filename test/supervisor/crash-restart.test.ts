/**
 * Crashes by throw, exit, out-of-memory and hang: each brings the role back
 * one-for-one, peers talk to the new instance, and a call in flight to the
 * crashed one fails fast with a retryable ERR_PEER_DOWN. Also logs the time
 * from crash to serving again, with and without a warm spare.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import { makeConfig, readLog, service, tempDir, testRegistry } from './harness.js';
import type { Outcome } from './fixtures/caller-actor.js';

const tmp = tempDir();
let sup: Supervisor;

before(async () => {
  const config = makeConfig(tmp.dir, [service('echo', 'echo', { maxproc: 1 }), service('caller', 'caller', { maxproc: 1 })], {
    supervisor_restart_limit: '50',
  });
  sup = new Supervisor({ config, registry: testRegistry({ spare: true, memoryMb: 32 }), controlSocket: false, heartbeatMs: 250, missedHeartbeats: 6, busyTimeoutMs: 2000 });
  await sup.start();
});

after(async () => {
  await sup.stop();
  tmp.cleanup();
});

async function echoThread(): Promise<number> {
  const out = (await sup.callActor('caller', 'relay', { kind: 'whoami', body: {}, timeoutMs: 5000 })) as Outcome;
  assert.equal(out.ok, true, JSON.stringify(out));
  return (out as { value: { threadId: number } }).value.threadId;
}

for (const kind of ['throw', 'exit', 'oom', 'hang'] as const) {
  test(`a crash by ${kind} brings echo back; the call in flight fails fast with ERR_PEER_DOWN`, async () => {
    const before = await echoThread();
    // a call the crash interrupts: it would take 20 s and has a 25 s timeout
    const inFlight = sup.callActor('caller', 'relay', { kind: 'slow', body: { ms: 20_000 }, timeoutMs: 25_000 }) as Promise<Outcome>;
    await new Promise((r) => setTimeout(r, 50));
    await sup.sparesLoaded();
    const restarted = once(sup, 'restart');
    sup.fault('echo', 1, kind);
    const out = await inFlight;
    assert.equal(out.ok, false);
    assert.equal(!out.ok && out.code, 'ERR_PEER_DOWN');
    assert.equal(!out.ok && out.retryable, true);
    assert.ok(out.elapsedMs < 15_000, `failed after ${out.elapsedMs} ms, well before the timeout`);
    const [info] = (await restarted) as [{ ms: number; spare: boolean }];
    console.log(`# crash by ${kind}: serving again ${info.ms} ms after the crash was seen (warm spare: ${info.spare})`);
    const after = await echoThread();
    assert.notEqual(after, before, 'a new thread serves');
    const st = await sup.status();
    const echo = st.actors.find((a) => a.role === 'echo')!;
    assert.equal(echo.state, 'running');
    assert.equal(echo.threadId, after);
  });
}

test('the crashes were logged as Postfix master logs them', () => {
  const log = readLog(tmp.dir);
  assert.match(log, /postrider\/master\[\d+\]: warning: process echo pid \d+ exit status 1 \(uncaught exception: injected fault: throw\)/);
  assert.match(log, /warning: process echo pid \d+ exit status 3/);
  assert.match(log, /warning: process echo pid \d+ exit status \d+ \(out of memory\)/);
  assert.match(log, /warning: process echo pid \d+ exit status \d+ \(not responding, killed\)/);
});

test('without a spare the role comes back cold; the time is logged', async () => {
  const t = tempDir();
  const config = makeConfig(t.dir, [service('echo', 'echo', { maxproc: 1 })]);
  const cold = new Supervisor({ config, registry: testRegistry({ spare: false }), controlSocket: false });
  try {
    await cold.start();
    const restarted = once(cold, 'restart');
    cold.fault('echo', 1, 'exit');
    const [info] = (await restarted) as [{ ms: number; spare: boolean }];
    assert.equal(info.spare, false);
    console.log(`# crash by exit: serving again ${info.ms} ms after the crash was seen (cold start)`);
    const who = (await cold.callActor('echo', 'whoami', {})) as { instance: number };
    assert.equal(who.instance, 1);
  } finally {
    await cold.stop();
    t.cleanup();
  }
});
