/**
 * supervisor-salts: every live actor incarnation holds a queue-id salt no
 * other live one holds, through warm-spare activation, crash restarts and a
 * reload whose old listener is still draining a session; a salt comes back
 * only when its thread has exited, and round robin.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import { SaltPool } from '../../src/supervisor/supervisor-salts.js';
import { QUEUE_ID_SALTS } from '../../src/store/store-queue-id.js';
import { makeConfig, service, tempDir, testRegistry } from './harness.js';
import { freePort } from '../helpers/daemon.js';

test('the pool never hands out a held salt, and a released one comes back only after the others', () => {
  const pool = new SaltPool(QUEUE_ID_SALTS - 2);
  const a = pool.take();
  const b = pool.take();
  const c = pool.take();
  assert.deepEqual([a, b, c], [QUEUE_ID_SALTS - 2, QUEUE_ID_SALTS - 1, 0], 'round robin, wrapping at the end');
  pool.release(b);
  assert.equal(pool.holds(b), false);
  assert.equal(pool.take(), 1, 'the next one in turn, not the one just freed');
  // Hold everything but b: b is then the only one left.
  const taken = new Set([a, c, 1]);
  while (pool.size < QUEUE_ID_SALTS - 1) taken.add(pool.take());
  assert.equal(taken.size, QUEUE_ID_SALTS - 1);
  assert.equal(taken.has(b), false);
  assert.equal(pool.take(), b);
  assert.throws(() => pool.take(), { code: 'ERR_NO_SALT' });
});

/** A line-reading client of the listen fixture. */
async function session(port: number): Promise<{ socket: Socket; ask(line: string): Promise<string> }> {
  const socket = connect(port, '127.0.0.1');
  socket.setEncoding('utf8');
  let buf = '';
  const waiting: Array<(l: string) => void> = [];
  const lines: string[] = [];
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
  await once(socket, 'connect');
  const next = (): Promise<string> => (lines.length ? Promise.resolve(lines.shift()!) : new Promise((r) => waiting.push(r)));
  await next(); // the greeting
  return {
    socket,
    ask: (line) => {
      socket.write(line + '\n');
      return next();
    },
  };
}

const saltOf = async (s: { ask(line: string): Promise<string> }): Promise<number> => Number((await s.ask('salt')).split(' ')[1]);

test('live incarnations never share a salt: spares, crash restarts, and a reload while the old listener drains', async () => {
  const t = tempDir();
  const port = await freePort();
  const listen = service(`127.0.0.1:${port}`, 'listen', { type: 'inet' });
  const config = makeConfig(t.dir, [listen, service('echo', 'echo', { maxproc: 2 })], { greeting: 'g', supervisor_restart_limit: '50' });
  const sup = new Supervisor({ config, registry: testRegistry({ spare: true }), controlSocket: false });
  const echoSalts = async (): Promise<number[]> => {
    const out: number[] = [];
    for (const instance of [1, 2]) out.push(((await sup.callActor('echo', 'whoami', {}, { instance })) as { idSalt: number }).idSalt);
    return out;
  };
  try {
    await sup.start();
    const old = await session(port);
    const seen = [...(await echoSalts()), await saltOf(old)];
    assert.equal(new Set(seen).size, 3, `distinct at start: ${seen}`);
    for (const s of seen) assert.ok(Number.isInteger(s) && s >= 0 && s < QUEUE_ID_SALTS);

    // A crash: the restarted instance (from the warm spare) gets a salt of its own.
    for (let round = 0; round < 3; round++) {
      const restarted = once(sup, 'restart');
      sup.fault('echo', 1, 'exit');
      await restarted;
      const now = await echoSalts();
      assert.equal(new Set([...now, await saltOf(old)]).size, 3, `distinct after restart ${round}: ${now}`);
      assert.ok(!seen.includes(now[0]), `a restart takes a salt not handed out before (${now[0]} in ${seen})`);
      seen.push(now[0]);
    }

    // A reload: the old listener keeps its session (and its salt) while the new one serves.
    await sup.reload(makeConfig(t.dir, [listen, service('echo', 'echo', { maxproc: 2 })], { greeting: 'h', supervisor_restart_limit: '50' }));
    const fresh = await session(port);
    const oldSalt = await saltOf(old);
    const newSalt = await saltOf(fresh);
    assert.notEqual(newSalt, oldSalt, 'the draining listener and its replacement hold different salts');
    const live = [...(await echoSalts()), oldSalt, newSalt];
    assert.equal(new Set(live).size, live.length, `every live incarnation distinct after the reload: ${live}`);
    old.socket.end('quit\n');
    fresh.socket.end('quit\n');
  } finally {
    await sup.stop();
    t.cleanup();
  }
});
