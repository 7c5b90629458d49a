/**
 * reload: every instance is replaced with one running the new configuration;
 * an old listener stops accepting but finishes its sessions; services added
 * to or removed from master.cf start or stop. A reload whose new actors
 * cannot start, or whose listener cannot bind, keeps the old tree serving;
 * a kept role takes the new configuration in place. Also stop() drains
 * listeners.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, createServer, type Socket } from 'node:net';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import { makeConfig, service, tempDir, testRegistry } from './harness.js';
import { freePort } from '../helpers/daemon.js';

/** A line-reading client of the listen fixture. */
async function session(port: number): Promise<{ socket: Socket; next(): Promise<string>; send(l: string): void }> {
  const socket = connect(port, '127.0.0.1');
  socket.setEncoding('utf8');
  const lines: string[] = [];
  const waiting: Array<(l: string) => void> = [];
  let buf = '';
  let closed = false;
  socket.on('data', (d: string) => {
    buf += d;
    let nl;
    while ((nl = buf.indexOf('\n')) >= 0) {
      const l = buf.slice(0, nl);
      buf = buf.slice(nl + 1);
      const w = waiting.shift();
      if (w) w(l);
      else lines.push(l);
    }
  });
  socket.on('close', () => {
    closed = true;
    for (const w of waiting.splice(0)) w('<closed>');
  });
  await new Promise<void>((resolve, reject) => {
    socket.once('connect', () => resolve());
    socket.once('error', reject);
  });
  return {
    socket,
    next: () => (lines.length ? Promise.resolve(lines.shift()!) : closed ? Promise.resolve('<closed>') : new Promise((r) => waiting.push(r))),
    send: (l) => socket.write(l + '\n'),
  };
}

test('reload: new sessions get the new values, an open session finishes under the old; services come and go', async () => {
  const t = tempDir();
  const port = await freePort();
  const listen = service(`127.0.0.1:${port}`, 'listen', { type: 'inet' });
  const sup = new Supervisor({
    config: makeConfig(t.dir, [listen, service('echo', 'echo', { maxproc: 1 })], { greeting: 'old' }),
    registry: testRegistry({ spare: false }),
    controlSocket: false,
  });
  try {
    await sup.start();
    const a = await session(port);
    assert.equal(await a.next(), 'hello old');

    await sup.reload(makeConfig(t.dir, [listen, service('caller', 'caller', { maxproc: 1 })], { greeting: 'new' }));

    // the session opened before the reload still works, under the old value
    a.send('ping');
    assert.equal(await a.next(), 'pong old');
    const b = await session(port);
    assert.equal(await b.next(), 'hello new');
    const roles = (await sup.status()).actors.map((x) => x.role).sort();
    assert.deepEqual(roles, ['caller', 'listen'], 'echo stopped, caller started');
    a.send('quit');
    assert.equal(await a.next(), 'bye');
    b.send('quit');
    assert.equal(await b.next(), 'bye');
  } finally {
    await sup.stop();
    t.cleanup();
  }
});

test('stop() drains: the listener stops accepting, and the session in progress may finish', async () => {
  const t = tempDir();
  const port = await freePort();
  const sup = new Supervisor({
    config: makeConfig(t.dir, [service(`127.0.0.1:${port}`, 'listen', { type: 'inet' })], { greeting: 'x' }),
    registry: testRegistry({ spare: false }),
    controlSocket: false,
  });
  await sup.start();
  const a = await session(port);
  assert.equal(await a.next(), 'hello x');
  const stopped = sup.stop();
  await new Promise((r) => setTimeout(r, 100));
  await assert.rejects(session(port), { code: 'ECONNREFUSED' });
  a.send('ping');
  assert.equal(await a.next(), 'pong x');
  a.send('quit');
  assert.equal(await a.next(), 'bye');
  await stopped;
  assert.equal(await sup.done, 0);
  t.cleanup();
});

test('reload replaces a singleton stop-first: the old one releases what it owns before the new one starts', async () => {
  const t = tempDir();
  const sup = new Supervisor({
    config: makeConfig(t.dir, [service('lock', 'lock', { maxproc: 1 })]),
    registry: testRegistry({ spare: false }),
    controlSocket: false,
  });
  try {
    await sup.start();
    const before = (await sup.callActor('lock', 'who', {})) as { threadId: number };
    await sup.reload(makeConfig(t.dir, [service('lock', 'lock', { maxproc: 1 })]));
    const after = (await sup.callActor('lock', 'who', {})) as { threadId: number };
    assert.notEqual(after.threadId, before.threadId);
    const st = await sup.status();
    assert.deepEqual(st.actors.map((a) => [a.role, a.state, a.restarts]), [['lock', 'running', 0]]);
  } finally {
    await sup.stop();
    t.cleanup();
  }
});

test('a new listener that cannot set up fails the reload; the previous configuration serves again and nothing counts as a crash', async () => {
  const t = tempDir();
  const port = await freePort();
  const listen = service(`127.0.0.1:${port}`, 'listen', { type: 'inet' });
  const sup = new Supervisor({ config: makeConfig(t.dir, [listen], { greeting: 'old' }), registry: testRegistry({ spare: false }), controlSocket: false });
  try {
    await sup.start();
    const a = await session(port);
    assert.equal(await a.next(), 'hello old');
    await assert.rejects(sup.reload(makeConfig(t.dir, [listen], { greeting: 'new', fail_setup: 'yes' })), (err: Error & { code?: string }) => {
      assert.equal(err.code, 'ERR_RELOAD_FAILED');
      assert.match(err.message, /^reload failed: .*set-up refused \(fail_setup = yes\).*; the running configuration is kept$/);
      assert.equal(err.message.includes('\n'), false);
      return true;
    });
    const b = await session(port);
    assert.equal(await b.next(), 'hello old', 'new sessions get the previous configuration');
    a.send('ping');
    assert.equal(await a.next(), 'pong old', 'the session open before the reload goes on');
    const st = await sup.status();
    assert.deepEqual(st.actors.map((x) => [x.role, x.state, x.restarts]), [['listen', 'running', 0]]);
    // and a good reload after it works
    await sup.reload(makeConfig(t.dir, [listen], { greeting: 'new' }));
    const c = await session(port);
    assert.equal(await c.next(), 'hello new');
    for (const s of [a, b, c]) s.socket.destroy();
  } finally {
    await sup.stop();
    t.cleanup();
  }
});

test('an instance that cannot set up fails the reload before anything was replaced: the old ones serve on', async () => {
  const t = tempDir();
  const echo = service('echo', 'echo', { maxproc: 2 });
  const sup = new Supervisor({ config: makeConfig(t.dir, [echo], { marker: 'one' }), registry: testRegistry({ spare: false }), controlSocket: false });
  try {
    await sup.start();
    const before = (await sup.status()).actors.map((a) => a.threadId).sort();
    await assert.rejects(sup.reload(makeConfig(t.dir, [echo, service('caller', 'caller', { maxproc: 1 })], { marker: 'two', fail_setup: 'yes' })), { code: 'ERR_RELOAD_FAILED' });
    const st = await sup.status();
    assert.deepEqual(st.actors.map((a) => a.threadId).sort(), before, 'the same echo threads, no caller');
    assert.deepEqual(st.actors.map((a) => [a.role, a.state, a.restarts]), [['echo', 'running', 0], ['echo', 'running', 0]]);
    assert.deepEqual(await sup.callActor('echo', 'param', { name: 'marker' }), { value: 'one' });
  } finally {
    await sup.stop();
    t.cleanup();
  }
});

test('a listener address another program holds refuses the reload before anything changes', async () => {
  const t = tempDir();
  const port = await freePort();
  const busy = createServer();
  const busyPort = await freePort();
  await new Promise<void>((r) => busy.listen(busyPort, '127.0.0.1', r));
  const listen = service(`127.0.0.1:${port}`, 'listen', { type: 'inet' });
  const sup = new Supervisor({ config: makeConfig(t.dir, [listen], { greeting: 'old' }), registry: testRegistry({ spare: false }), controlSocket: false });
  try {
    await sup.start();
    const before = (await sup.status()).actors.map((a) => a.threadId);
    const moved = service(`127.0.0.1:${busyPort}`, 'listen', { type: 'inet', line: 7 });
    await assert.rejects(sup.reload(makeConfig(t.dir, [moved], { greeting: 'new' })), {
      code: 'ERR_RELOAD_FAILED',
      message: `reload refused: master.cf, line 7: service 127.0.0.1:${busyPort}: cannot listen on 127.0.0.1:${busyPort}: address already in use; the running configuration is kept`,
    });
    assert.deepEqual((await sup.status()).actors.map((a) => a.threadId), before);
    const a = await session(port);
    assert.equal(await a.next(), 'hello old');
    a.socket.destroy();
  } finally {
    await sup.stop();
    await new Promise((r) => busy.close(r));
    t.cleanup();
  }
});

test('a role kept across reloads keeps its thread and takes the new configuration in place', async () => {
  const t = tempDir();
  const sup = new Supervisor({ config: makeConfig(t.dir, [service('keeper', 'keeper')], { marker: 'one' }), registry: testRegistry({ spare: false }), controlSocket: false });
  try {
    await sup.start();
    const before = (await sup.callActor('keeper', 'whoami', {})) as { threadId: number };
    await sup.reload(makeConfig(t.dir, [service('keeper', 'keeper')], { marker: 'two' }));
    assert.deepEqual(await sup.callActor('keeper', 'whoami', {}), before);
    assert.deepEqual(await sup.callActor('keeper', 'param', { name: 'marker' }), { value: 'two' });
    assert.deepEqual(await sup.callActor('keeper', 'notes', {}), { texts: ['reconfigured'] });
  } finally {
    await sup.stop();
    t.cleanup();
  }
});

test('a singleton whose master.cf line is renamed is replaced in place: the old one lets go before the new one starts', async () => {
  const t = tempDir();
  const sup = new Supervisor({ config: makeConfig(t.dir, [service('lock', 'lock', { maxproc: 1 })]), registry: testRegistry({ spare: false }), controlSocket: false });
  try {
    await sup.start();
    await sup.reload(makeConfig(t.dir, [service('lock2', 'lock', { maxproc: 1 })]));
    const st = await sup.status();
    assert.deepEqual(st.actors.map((a) => [a.role, a.service, a.state, a.restarts]), [['lock', 'lock2', 'running', 0]]);
  } finally {
    await sup.stop();
    t.cleanup();
  }
});
