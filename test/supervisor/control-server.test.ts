/** The control socket: permissions, status/reload/stop, hostile requests, registered commands. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { statSync, existsSync, readFileSync, renameSync } from 'node:fs';
import { connect } from 'node:net';
import { join } from 'node:path';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import type { SupervisorConfig } from '../../src/supervisor/role-registry.js';
import { controlRequest } from '../../src/cli/control-client.js';
import { makeConfig, service, tempDir, testRegistry } from './harness.js';

function rawRequest(path: string, text: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const s = connect(path);
    let out = '';
    s.setEncoding('utf8');
    s.on('data', (d: string) => {
      out += d;
      if (out.includes('\n')) {
        s.destroy();
        resolve(out.trim());
      }
    });
    s.on('error', reject);
    s.on('connect', () => s.write(text));
  });
}

test('control socket: 0600 in a 0700 directory; status, reload (good and broken), commands, stop', async () => {
  const t = tempDir();
  const queue = join(t.dir, 'queue');
  let next: SupervisorConfig = makeConfig(t.dir, [service('echo', 'echo', { maxproc: 1 })], { marker: 'one' });
  const sup = new Supervisor({ config: next, registry: testRegistry({ spare: false }), loadConfig: () => next });
  try {
    await sup.start();
    const path = join(queue, 'private', 'control');
    assert.equal(statSync(path).mode & 0o777, 0o600);
    assert.equal(statSync(join(queue, 'private')).mode & 0o777, 0o700);

    const st = (await controlRequest(queue, 'status')) as { pid: number; actors: Array<{ role: string; threadId: number }> };
    assert.equal(st.pid, process.pid);
    assert.deepEqual(st.actors.map((a) => a.role), ['echo']);
    const oldThread = st.actors[0].threadId;

    // a broken configuration is refused, the old one keeps running
    next = { ...makeConfig(t.dir, [service('echo', 'echo', { maxproc: 1 })], { marker: 'two' }), problems: [{ severity: 'error', file: join(t.dir, 'main.cf'), line: 3, message: 'bad value' }] };
    await assert.rejects(controlRequest(queue, 'reload'), { message: `reload refused: ${join(t.dir, 'main.cf')}, line 3: bad value` });
    assert.deepEqual(await sup.callActor('echo', 'param', { name: 'marker' }), { value: 'one' });
    const same = (await controlRequest(queue, 'status')) as { actors: Array<{ threadId: number }> };
    assert.equal(same.actors[0].threadId, oldThread);

    // a good one replaces the instance
    next = makeConfig(t.dir, [service('echo', 'echo', { maxproc: 1 })], { marker: 'two' });
    assert.deepEqual(await controlRequest(queue, 'reload'), { reloaded: true });
    assert.deepEqual(await sup.callActor('echo', 'param', { name: 'marker' }), { value: 'two' });
    const after = (await controlRequest(queue, 'status')) as { actors: Array<{ threadId: number }> };
    assert.notEqual(after.actors[0].threadId, oldThread);

    // other parts register commands that stream lines
    sup.control.register('queue', (args, stream) => {
      stream.line('first');
      stream.line('second');
      return { args };
    });
    const lines: string[] = [];
    assert.deepEqual(await controlRequest(queue, 'queue', ['-j'], (l) => lines.push(l)), { args: ['-j'] });
    assert.deepEqual(lines, ['first', 'second']);

    // hostile input gets a one-line error reply
    assert.deepEqual(JSON.parse(await rawRequest(path, 'not json\n')), { ok: false, error: 'malformed request: not JSON' });
    assert.deepEqual(JSON.parse(await rawRequest(path, '{"args":[]}\n')), { ok: false, error: 'malformed request: no command' });
    assert.deepEqual(JSON.parse(await rawRequest(path, '{"command":"frobnicate"}\n')), { ok: false, error: 'unknown command: frobnicate' });
    await assert.rejects(controlRequest(queue, 'fault', ['echo', 'x', 'exit']), { message: 'usage: fault ROLE INSTANCE throw|exit|oom|hang' });

    // logrotate: every thread reopens maillog_file
    const log = join(t.dir, 'maillog');
    renameSync(log, `${log}.0`);
    assert.deepEqual(await controlRequest(queue, 'logrotate'), { reopened: 2 });
    await controlRequest(queue, 'reload');
    await new Promise((r) => setTimeout(r, 50));
    assert.match(readFileSync(log, 'utf8'), /postrider\/master\[\d+\]: reload -- version/);

    assert.deepEqual(await controlRequest(queue, 'stop'), { stopping: true });
    assert.equal(await sup.done, 0);
    assert.equal(existsSync(path), false, 'socket removed');
    assert.equal(existsSync(join(queue, 'pid', 'master.pid')), false, 'pid file removed');
    await assert.rejects(controlRequest(queue, 'status'), { code: 'ERR_NOT_RUNNING' });
  } finally {
    await sup.stop();
    t.cleanup();
  }
});

test('a second supervisor on the same queue directory is refused while the first runs, whatever the pid file says', async () => {
  const t = tempDir();
  const config = makeConfig(t.dir, []);
  const first = new Supervisor({ config, registry: testRegistry() });
  try {
    await first.start();
    const second = new Supervisor({ config, registry: testRegistry() });
    await assert.rejects(second.start(), { code: 'ERR_ALREADY_RUNNING', message: `the Postrider mail system is already running (pid ${process.pid})` });
    // a pid file naming some other live process does not hide the first: its control socket answers
    const { writeFileSync } = await import('node:fs');
    writeFileSync(join(t.dir, 'queue', 'pid', 'master.pid'), `${process.ppid}\n`);
    const third = new Supervisor({ config, registry: testRegistry() });
    await assert.rejects(third.start(), { code: 'ERR_ALREADY_RUNNING', message: `the Postrider mail system is already running (pid ${process.pid})` });
  } finally {
    await first.stop();
    t.cleanup();
  }
});
