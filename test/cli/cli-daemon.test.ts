/**
 * The daemon as a process: control socket permissions, status / reload /
 * stop through the real command, a refused reload, SIGTERM, the restart
 * intensity limit ending start-fg with a non-zero status, and start, start-fg
 * and status agreeing over a stale pid file (a reused pid, a zombie, a pid
 * that names nothing).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { controlRequest } from '../../src/cli/control-client.js';
import { gonePid, unrelatedProcess, zombieProcess } from '../helpers/stale-process.js';
import { configDir, postrider, startTestDaemon, type ConfigDir } from './cli-harness.js';

const MASTER = 'discard unix - - n - 1 discard\n';

test('status, reload (refused when broken, old config kept), SIGTERM exits 0 and removes the pid file', async () => {
  const c = configDir('greeting = one\ndebug_fault_injection = yes\n', MASTER);
  const d = await startTestDaemon(c);
  try {
    assert.equal(statSync(join(c.queue, 'private', 'control')).mode & 0o777, 0o600);
    const pid = Number(readFileSync(join(c.queue, 'pid', 'master.pid'), 'utf8').trim());
    assert.equal(pid, d.child.pid);

    const st = await postrider(['-c', c.dir, 'status']);
    assert.equal(st.code, 0);
    const lines = st.stdout.trimEnd().split('\n');
    assert.equal(lines[0], `postrider: the Postrider mail system is running: PID: ${d.child.pid}`);
    // the thread table: a header, the discard actor, the main thread and the process, each with its CPU seconds
    assert.match(lines[1], /^role\s+service\s+thread\s+state\s+restarts\s+uptime s\s+load\s+cpu s$/);
    assert.match(lines[2], /^discard\s+discard\s+\d+\s+running\s+0\s+\d+\s+\d+\.\d\d\s+\d+\.\d\d$/);
    assert.match(lines[3], /^main thread\s+-\s+0\s+running\s+-\s+\d+\s+\d+\.\d\d\s+\d+\.\d\d$/);
    assert.match(lines[4], /^process \(\d+ threads\)\s+\d+\.\d\d$/);
    const json = await postrider(['-c', c.dir, 'status', '--json']);
    type Cpu = { cpuSeconds: number; cpuUserSeconds: number; cpuSystemSeconds: number; eventLoopActiveSeconds: number };
    const parsed = JSON.parse(json.stdout) as {
      pid: number;
      actors: Array<{ role: string; instance: number; threadId: number; restarts: number; uptimeSeconds: number } & Cpu>;
      mainThread: Cpu & { load: number };
      process: { cpuSeconds: number; threads: number };
    };
    assert.equal(parsed.pid, d.child.pid);
    assert.equal(parsed.actors[0].role, 'discard');
    // CPU per thread: user + system, the actor's and the main thread's each within the process's
    for (const t of [parsed.actors[0], parsed.mainThread]) {
      assert.ok(t.cpuSeconds > 0, `a started thread has used CPU: ${JSON.stringify(t)}`);
      assert.ok(Math.abs(t.cpuSeconds - t.cpuUserSeconds - t.cpuSystemSeconds) < 1e-5);
      assert.ok(t.eventLoopActiveSeconds > 0 && t.eventLoopActiveSeconds <= parsed.process.cpuSeconds + 1);
    }
    assert.ok(parsed.actors[0].cpuSeconds + parsed.mainThread.cpuSeconds <= parsed.process.cpuSeconds + 0.01, 'the threads are part of the process');
    assert.ok(parsed.process.threads >= 2, 'at least the main thread and the actor');
    const thread = parsed.actors[0].threadId;

    // a malformed value: reload is refused with one line and the old config keeps running
    c.write('greeting = two\ndebug_fault_injection = yes\nmessage_size_limit = lots\n', MASTER);
    const bad = await postrider(['-c', c.dir, 'reload']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^postrider: fatal: reload refused: .*main\.cf, line \d+: .*message_size_limit.*\n$/);
    assert.equal((await controlRequest(c.queue, 'status') as { actors: Array<{ threadId: number }> }).actors[0].threadId, thread);

    c.write('greeting = two\ndebug_fault_injection = yes\n', MASTER);
    const good = await postrider(['-c', c.dir, 'reload']);
    assert.equal(good.code, 0, good.stderr);
    assert.equal(good.stdout, 'postrider: refreshing the Postrider mail system\n');
    const after = (await controlRequest(c.queue, 'status')) as { actors: Array<{ threadId: number }> };
    assert.notEqual(after.actors[0].threadId, thread, 'the instance was replaced');

    d.child.kill('SIGTERM');
    assert.equal(await d.exit, 0);
    assert.equal(existsSync(join(c.queue, 'pid', 'master.pid')), false);
    assert.equal(existsSync(join(c.queue, 'private', 'control')), false);
    const down = await postrider(['-c', c.dir, 'status']);
    assert.equal(down.code, 1);
    assert.equal(down.stderr, 'postrider: the Postrider mail system is not running\n');
  } finally {
    if (d.child.exitCode === null) d.child.kill('SIGKILL');
    c.cleanup();
  }
});

test('postrider stop waits for the daemon to exit; exit status 0', async () => {
  const c = configDir('', MASTER);
  const d = await startTestDaemon(c);
  try {
    const r = await postrider(['-c', c.dir, 'stop']);
    assert.equal(r.code, 0, r.stderr);
    // stop returns once the daemon has exited (a zombie counts: it has exited); this test
    // process, its parent, reaps it on its own event loop, so give that a moment.
    if (d.child.exitCode === null) {
      await Promise.race([new Promise((r) => d.child.once('exit', r)), new Promise((r) => setTimeout(r, 2000))]);
    }
    assert.equal(d.child.exitCode, 0, 'exited with status 0 when stop returned');
    const again = await postrider(['-c', c.dir, 'stop']);
    assert.equal(again.code, 1);
    assert.equal(again.stderr, 'postrider: fatal: the Postrider mail system is not running\n');
  } finally {
    if (d.child.exitCode === null) d.child.kill('SIGKILL');
    c.cleanup();
  }
});

test('restart intensity exceeded while serving: the actor is throttled, logged, and the daemon keeps serving', async () => {
  const c = configDir('debug_fault_injection = yes\nsupervisor_restart_limit = 2\nsupervisor_restart_window = 60s\n', MASTER);
  const d = await startTestDaemon(c);
  try {
    for (let i = 0; i < 3; i++) {
      await controlRequest(c.queue, 'fault', ['discard', '1', 'exit']);
      if (i < 2) {
        // wait for the new instance before breaking it again
        for (;;) {
          const st = (await controlRequest(c.queue, 'status')) as { actors: Array<{ restarts: number; state: string }> };
          if (st.actors[0].restarts === i + 1 && st.actors[0].state === 'running') break;
          await new Promise((r) => setTimeout(r, 20));
        }
      }
    }
    for (;;) {
      if (/restart intensity exceeded: 3 restarts of discard\[1\] in 60 s -- throttling/.test(readFileSync(c.log, 'utf8'))) break;
      await new Promise((r) => setTimeout(r, 20));
    }
    assert.equal(d.child.exitCode, null, 'the daemon is still running');
    assert.ok(await controlRequest(c.queue, 'status'), 'the control socket still answers');
    assert.doesNotMatch(readFileSync(c.log, 'utf8'), /fatal: restart intensity exceeded/);
    assert.equal((await postrider(['-c', c.dir, 'stop'])).code, 0);
    assert.equal(await d.exit, 0);
  } finally {
    if (d.child.exitCode === null) d.child.kill('SIGKILL');
    c.cleanup();
  }
});

test('fault over the control socket is refused without debug_fault_injection', async () => {
  const c = configDir('', MASTER);
  const d = await startTestDaemon(c);
  try {
    await assert.rejects(controlRequest(c.queue, 'fault', ['discard', '1', 'exit']), {
      message: 'fault injection is disabled (debug_fault_injection = no)',
    });
    d.child.kill('SIGINT');
    assert.equal(await d.exit, 0);
  } finally {
    if (d.child.exitCode === null) d.child.kill('SIGKILL');
    c.cleanup();
  }
});

// ---- the pid file: start, start-fg and status agree on whether the daemon runs ----

/** A real `postrider start` of journal + discard; the caller stops it. */
const REAL_MASTER = 'discard unix - - n - 1 discard\n';

function writePid(c: ConfigDir, pid: number): void {
  mkdirSync(join(c.queue, 'pid'), { recursive: true });
  writeFileSync(join(c.queue, 'pid', 'master.pid'), `${String(pid).padStart(10)}\n`);
}

/** With a stale pid file in place: status says not running, start starts, status then names the new daemon, stop stops it. */
async function startsOverStalePidFile(c: ConfigDir, stalePid: number): Promise<void> {
  try {
    const before = await postrider(['-c', c.dir, 'status']);
    assert.equal(before.code, 1, before.stdout);
    assert.equal(before.stderr, 'postrider: the Postrider mail system is not running\n');
    const started = await postrider(['-c', c.dir, 'start']);
    assert.equal(started.code, 0, started.stderr);
    const pid = Number(readFileSync(join(c.queue, 'pid', 'master.pid'), 'utf8').trim());
    assert.notEqual(pid, stalePid);
    const st = await postrider(['-c', c.dir, 'status']);
    assert.equal(st.code, 0, st.stderr);
    assert.equal(st.stdout.split('\n')[0], `postrider: the Postrider mail system is running: PID: ${pid}`);
    const again = await postrider(['-c', c.dir, 'start']);
    assert.equal(again.code, 1);
    assert.equal(again.stderr, `postrider: fatal: the Postrider mail system is already running (pid ${pid})\n`);
  } finally {
    await postrider(['-c', c.dir, 'stop']);
  }
}

test('a pid file naming a live unrelated process: start starts the daemon and status agrees', async () => {
  const c = configDir('', REAL_MASTER);
  const other = await unrelatedProcess();
  try {
    writePid(c, other.pid!);
    await startsOverStalePidFile(c, other.pid!);
    assert.equal(other.exitCode, null, 'the unrelated process was left alone');
  } finally {
    other.kill('SIGKILL');
    c.cleanup();
  }
});

test('a pid file naming a zombie: start starts the daemon and status agrees', async () => {
  const c = configDir('', REAL_MASTER);
  const z = await zombieProcess();
  try {
    writePid(c, z.pid);
    await startsOverStalePidFile(c, z.pid);
  } finally {
    z.parent.kill('SIGKILL');
    c.cleanup();
  }
});

test('a pid file naming no process: start starts the daemon and status agrees', async () => {
  const c = configDir('', REAL_MASTER);
  try {
    const pid = await gonePid();
    writePid(c, pid);
    await startsOverStalePidFile(c, pid);
  } finally {
    c.cleanup();
  }
});

test('a running daemon: start and start-fg refuse, status says running, both name its pid', async () => {
  const c = configDir('', REAL_MASTER);
  try {
    const started = await postrider(['-c', c.dir, 'start']);
    assert.equal(started.code, 0, started.stderr);
    const pid = Number(readFileSync(join(c.queue, 'pid', 'master.pid'), 'utf8').trim());
    const st = await postrider(['-c', c.dir, 'status']);
    assert.equal(st.code, 0, st.stderr);
    assert.equal(st.stdout.split('\n')[0], `postrider: the Postrider mail system is running: PID: ${pid}`);
    const again = await postrider(['-c', c.dir, 'start']);
    assert.equal(again.code, 1);
    assert.equal(again.stderr, `postrider: fatal: the Postrider mail system is already running (pid ${pid})\n`);
    const fg = await postrider(['-c', c.dir, 'start-fg']);
    assert.equal(fg.code, 1);
    assert.equal(fg.stderr, `postrider: fatal: the Postrider mail system is already running (pid ${pid})\n`);
    assert.equal(Number(readFileSync(join(c.queue, 'pid', 'master.pid'), 'utf8').trim()), pid, 'the refused start left the pid file alone');
    assert.equal((await postrider(['-c', c.dir, 'status'])).code, 0);
  } finally {
    await postrider(['-c', c.dir, 'stop']);
    c.cleanup();
  }
});

test('sendmail -bd starts the mail system as start does (Postfix runs "postfix start"), and fails as start does when it runs', async () => {
  const c = configDir('', REAL_MASTER);
  try {
    const started = await postrider(['-c', c.dir, 'sendmail', '-bd']);
    assert.equal(started.code, 0, started.stderr);
    const pid = Number(readFileSync(join(c.queue, 'pid', 'master.pid'), 'utf8').trim());
    const st = await postrider(['-c', c.dir, 'status']);
    assert.equal(st.code, 0, st.stderr);
    assert.equal(st.stdout.split('\n')[0], `postrider: the Postrider mail system is running: PID: ${pid}`);
    const again = await postrider(['-c', c.dir, 'sendmail', '-bd', '-q30m']);
    assert.equal(again.code, 1);
    assert.equal(again.stderr, `postrider/sendmail: fatal: the Postrider mail system is already running (pid ${pid})\n`);
  } finally {
    await postrider(['-c', c.dir, 'stop']);
    c.cleanup();
  }
});
