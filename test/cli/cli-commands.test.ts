/** The command line without a daemon, and `start` / `stop` with the real roles. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { configDir, postrider } from './cli-harness.js';

test('check: errors on standard error and exit 1; warnings alone exit 0', async () => {
  const c = configDir('message_size_limit = lots\n', '');
  try {
    const bad = await postrider(['-c', c.dir, 'check']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^postrider: error: .*main\.cf, line 3: .*message_size_limit/m);
    c.write('no_such_parameter = 1\n', '');
    const warn = await postrider(['-c', c.dir, 'check']);
    assert.equal(warn.code, 0);
    assert.match(warn.stderr, /postrider: warning: .*no_such_parameter/);
  } finally {
    c.cleanup();
  }
});

test('config -n prints the parameters main.cf sets; POSTRIDER_CONFIG picks the directory', async () => {
  const c = configDir('myhostname = mx.example\n', '');
  try {
    const r = await postrider(['config', '-n'], { POSTRIDER_CONFIG: c.dir });
    assert.equal(r.code, 0);
    assert.match(r.stdout, /^myhostname = mx\.example$/m);
    assert.match(r.stdout, /^queue_directory = queue$/m);
    const one = await postrider(['-c', c.dir, 'config', 'myhostname']);
    assert.equal(one.stdout, 'myhostname = mx.example\n');
  } finally {
    c.cleanup();
  }
});

test('usage errors are one fatal line and exit 2; a missing daemon one line and exit 1', async () => {
  const c = configDir('', '');
  try {
    const unknown = await postrider(['-c', c.dir, 'frobnicate']);
    assert.equal(unknown.code, 2);
    assert.match(unknown.stderr, /^postrider: fatal: unknown command: frobnicate; see postrider --help/);
    assert.equal(unknown.stderr.split('\n').length, 2);
    const badOpt = await postrider(['-c', c.dir, '--bogus', 'status']);
    assert.equal(badOpt.code, 2);
    assert.match(badOpt.stderr, /^postrider: fatal: /);
    const reload = await postrider(['-c', c.dir, 'reload']);
    assert.equal(reload.code, 1);
    assert.equal(reload.stderr, 'postrider: fatal: the Postrider mail system is not running\n');
  } finally {
    c.cleanup();
  }
});

// A pid file alone (naming a live process that is no daemon) no longer stops a start:
// cli-daemon.test.ts has start and start-fg refusing a daemon that runs.
test('start-fg refuses a configuration with errors', async () => {
  const c = configDir('message_size_limit = lots\n', '');
  try {
    const r = await postrider(['-c', c.dir, 'start-fg']);
    assert.equal(r.code, 1);
    assert.match(r.stderr, /postrider: error: .*message_size_limit/);
    assert.match(r.stderr, /postrider: fatal: the configuration has errors; not started\n$/);
  } finally {
    c.cleanup();
  }
});

test('start returns once the daemon serves; a second start is refused; stop ends it', async () => {
  const c = configDir('', '');
  try {
    const r = await postrider(['-c', c.dir, 'start']);
    assert.equal(r.code, 0, r.stderr);
    const st = await postrider(['-c', c.dir, 'status', '--json']);
    assert.equal(st.code, 0);
    const status = JSON.parse(st.stdout) as { ready: boolean; actors: Array<{ role: string }> };
    assert.equal(status.ready, true);
    const again = await postrider(['-c', c.dir, 'start']);
    assert.equal(again.code, 1);
    assert.match(again.stderr, /^postrider: fatal: the Postrider mail system is already running \(pid \d+\)\n$/);
    const stop = await postrider(['-c', c.dir, 'stop']);
    assert.equal(stop.code, 0, stop.stderr);
    assert.equal((await postrider(['-c', c.dir, 'status'])).code, 1);
  } finally {
    await postrider(['-c', c.dir, 'stop']);
    c.cleanup();
  }
});

test('start reports why the daemon died during start-up', async () => {
  const c = configDir('', '');
  try {
    mkdirSync(join(c.queue, 'private'), { recursive: true });
    writeFileSync(join(c.queue, 'private', 'control'), 'not a socket');
    mkdirSync(join(c.queue, 'pid'), { recursive: true });
    writeFileSync(join(c.queue, 'pid', 'master.pid'), 'garbage\n');
    const r = await postrider(['-c', c.dir, 'start']);
    assert.equal(r.code, 0, 'a stale pid file and socket file are replaced');
    await postrider(['-c', c.dir, 'stop']);
    // queue_directory below a regular file cannot be created
    c.write(`queue_directory = ${join(c.dir, 'main.cf', 'queue')}\n`, '');
    const bad = await postrider(['-c', c.dir, 'start']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^postrider: fatal: .*ENOTDIR.*main\.cf\/queue/);
  } finally {
    c.cleanup();
  }
});
