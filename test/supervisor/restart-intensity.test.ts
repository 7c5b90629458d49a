/** More restarts than supervisor_restart_limit within the window stops the tree with a fatal log line. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import { RestartIntensity } from '../../src/supervisor/restart-policy.js';
import { makeConfig, readLog, service, tempDir, testRegistry } from './harness.js';

test('RestartIntensity counts restarts inside the window only', () => {
  const r = new RestartIntensity(2, 10);
  assert.equal(r.record(0), false);
  assert.equal(r.record(1000), false);
  assert.equal(r.record(2000), true);
  assert.equal(r.record(60_000), false, 'the old ones left the window');
  const p = RestartIntensity.fromParams({ supervisor_restart_limit: '4', supervisor_restart_window: '2m' }, '/');
  assert.equal(p.limit, 4);
  assert.equal(p.windowSeconds, 120);
  const d = RestartIntensity.fromParams({}, '/');
  assert.equal(d.limit, 10);
  assert.equal(d.windowSeconds, 60);
});

test('the tree stops with exit code 1 once the restart intensity is exceeded', async () => {
  const t = tempDir();
  const config = makeConfig(t.dir, [service('echo', 'echo', { maxproc: 1 }), service('caller', 'caller', { maxproc: 1 })], {
    supervisor_restart_limit: '2',
    supervisor_restart_window: '60s',
  });
  const sup = new Supervisor({ config, registry: testRegistry({ spare: true }), controlSocket: false });
  try {
    await sup.start();
    const pid = join(t.dir, 'queue', 'pid', 'master.pid');
    assert.ok(existsSync(pid));
    for (let i = 0; i < 2; i++) {
      const restarted = once(sup, 'restart');
      sup.fault('echo', 1, 'exit');
      await restarted;
    }
    const fatal = once(sup, 'fatal');
    sup.fault('echo', 1, 'exit');
    const [reason] = (await fatal) as [string];
    assert.equal(reason, 'restart intensity exceeded: 3 restarts in 60 s; last: echo[1]');
    assert.equal(await sup.done, 1);
    assert.match(readLog(t.dir), /postrider\/master\[\d+\]: fatal: restart intensity exceeded: 3 restarts in 60 s; last: echo\[1\]/);
    assert.equal(existsSync(pid), false, 'the pid file is removed');
    await assert.rejects(sup.callActor('echo', 'echo', 1, { timeoutMs: 50 }), { code: 'ERR_NO_PEER' });
  } finally {
    await sup.stop();
    t.cleanup();
  }
});

test('a set-up that fails refuses start() with the reason and leaves nothing running', async () => {
  const t = tempDir();
  const config = makeConfig(t.dir, [service('broken', 'broken', { maxproc: 1 })]);
  const sup = new Supervisor({ config, registry: testRegistry(), controlSocket: false });
  try {
    await assert.rejects(sup.start(), { code: 'ERR_SETUP_FAILED', message: 'broken[1]: set-up failed: cannot open the store' });
    assert.equal(existsSync(join(t.dir, 'queue', 'pid', 'master.pid')), false);
  } finally {
    t.cleanup();
  }
});

test('fault injection is refused unless debug_fault_injection = yes', async () => {
  const t = tempDir();
  const config = makeConfig(t.dir, [service('echo', 'echo', { maxproc: 1 })], { debug_fault_injection: 'no' });
  const sup = new Supervisor({ config, registry: testRegistry({ spare: false }), controlSocket: false });
  try {
    await sup.start();
    assert.throws(() => sup.fault('echo', 1, 'exit'), { code: 'ERR_FAULT_DISABLED' });
    assert.equal(((await sup.callActor('echo', 'echo', 'still here')) as string), 'still here');
  } finally {
    await sup.stop();
    t.cleanup();
  }
});
