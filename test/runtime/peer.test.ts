/** peer: request/reply, casts, errors, timeouts and peer-down over a real MessageChannel. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { MessageChannel } from 'node:worker_threads';
import { PeerLink, PeerSet, hashKey } from '../../src/runtime/peer.js';
import { ActorCallError } from '../../src/runtime/actor-error.js';
import { decode, encode } from '../../src/runtime/wire.js';

function pair(handlers: Record<string, (body: unknown) => unknown>) {
  const { port1, port2 } = new MessageChannel();
  const warnings: string[] = [];
  const client = new PeerLink(port1, { role: 'server', instance: 1, uid: 2 }, () => undefined, (t) => warnings.push(t));
  const server = new PeerLink(
    port2,
    { role: 'client', instance: 1, uid: 1 },
    (kind, body) => {
      const h = handlers[kind];
      if (!h) throw Object.assign(new Error(`no handler for ${kind}`), { code: 'ERR_NO_HANDLER' });
      return h(body);
    },
    (t) => warnings.push(t),
  );
  return { client, server, warnings, close: () => (client.close('test over'), server.close('test over')) };
}

test('encode returns independent buffers: many packs in a row do not overwrite each other', () => {
  const bufs = [];
  for (let i = 0; i < 200; i++) bufs.push(encode({ i, text: `message ${i}`, bytes: new Uint8Array(100).fill(i % 256) }));
  for (let i = 0; i < 200; i++) {
    const v = decode(bufs[i]) as { i: number; text: string; bytes: Uint8Array };
    assert.equal(v.i, i);
    assert.equal(v.text, `message ${i}`);
    assert.ok(v.bytes.every((b) => b === i % 256));
    assert.equal(bufs[i].byteOffset, 0);
    assert.equal(bufs[i].buffer.byteLength, bufs[i].length, 'right-sized, owns its ArrayBuffer');
  }
});

test('request/reply and casts over one link; handler errors come back as ERR_REMOTE with the remote code', async () => {
  const seen: unknown[] = [];
  const p = pair({
    add: (b) => (b as { a: number; b: number }).a + (b as { a: number; b: number }).b,
    later: async (b) => {
      await new Promise((r) => setTimeout(r, 5));
      return b;
    },
    note: (b) => void seen.push(b),
    boom: () => {
      throw Object.assign(new Error('disk full\nsecond line'), { code: 'ERR_STORE_FULL', retryable: true });
    },
  });
  try {
    assert.equal(await p.client.call('add', { a: 2, b: 3 }, 1000), 5);
    assert.deepEqual(await p.client.call('later', { x: [1, 2] }, 1000), { x: [1, 2] });
    p.client.cast('note', 'one');
    p.client.cast('note', 'two');
    const results = await Promise.all(Array.from({ length: 64 }, (_, i) => p.client.call('add', { a: i, b: 1 }, 1000)));
    assert.deepEqual(results, Array.from({ length: 64 }, (_, i) => i + 1));
    assert.deepEqual(seen, ['one', 'two']);
    const err = await p.client.call('boom', {}, 1000).catch((e: unknown) => e);
    assert.ok(err instanceof ActorCallError);
    assert.equal(err.code, 'ERR_REMOTE');
    assert.equal(err.remoteCode, 'ERR_STORE_FULL');
    assert.equal(err.retryable, true);
    assert.equal(err.message, 'disk full');
    const missing = await p.client.call('nothing', {}, 1000).catch((e: unknown) => e);
    assert.equal((missing as ActorCallError).remoteCode, 'ERR_NO_HANDLER');
    assert.equal((missing as ActorCallError).retryable, false);
  } finally {
    p.close();
  }
});

test('a call times out with a retryable ERR_CALL_TIMEOUT; close rejects pending calls at once with ERR_PEER_DOWN', async () => {
  const p = pair({ never: () => new Promise(() => undefined) });
  try {
    const timedOut = await p.client.call('never', {}, 50).catch((e: unknown) => e);
    assert.equal((timedOut as ActorCallError).code, 'ERR_CALL_TIMEOUT');
    assert.equal((timedOut as ActorCallError).retryable, true);
    const pending = p.client.call('never', {}, 60_000);
    assert.equal(p.client.pendingCount(), 1);
    p.client.close('peer died');
    const down = await pending.catch((e: unknown) => e);
    assert.equal((down as ActorCallError).code, 'ERR_PEER_DOWN');
    assert.equal((down as ActorCallError).retryable, true);
    const after = await p.client.call('never', {}, 60_000).catch((e: unknown) => e);
    assert.equal((after as ActorCallError).code, 'ERR_PEER_DOWN');
  } finally {
    p.close();
  }
});

test('a group with no live instance waits for one, then rejects ERR_NO_PEER', async () => {
  const group = new PeerSet('server', () => undefined);
  const none = await group.call('add', { a: 1, b: 1 }, { timeoutMs: 50 }).catch((e: unknown) => e);
  assert.equal((none as ActorCallError).code, 'ERR_NO_PEER');
  assert.equal((none as ActorCallError).retryable, true);
  const p = pair({ add: (b) => (b as { a: number; b: number }).a + (b as { a: number; b: number }).b });
  try {
    const waiting = group.call('add', { a: 20, b: 1 }, { timeoutMs: 5000 });
    setTimeout(() => group.add(p.client), 20);
    assert.equal(await waiting, 21);
    assert.equal(group.size(), 1);
    group.retire(2);
    assert.equal(group.size(), 0);
  } finally {
    p.close();
  }
});

test('hashKey is stable', () => {
  assert.equal(hashKey('example.com'), hashKey('example.com'));
  assert.notEqual(hashKey('a.example'), hashKey('b.example'));
  // FNV-1a 32-bit reference values, the same in every thread
  assert.equal(hashKey(''), 0x811c9dc5);
  assert.equal(hashKey('a'), 0xe40c292c);
});

test('a group picks round robin, by instance, or by key, and skips retired instances', async () => {
  const group = new PeerSet('server', () => undefined);
  const links = [1, 2, 3].map((instance) => {
    const { port1, port2 } = new MessageChannel();
    const client = new PeerLink(port1, { role: 'server', instance, uid: 10 + instance }, () => undefined, () => undefined);
    const server = new PeerLink(port2, { role: 'client', instance: 1, uid: 1 }, () => instance, () => undefined);
    return { client, server };
  });
  try {
    for (const l of [...links].reverse()) group.add(l.client);
    const rr = [];
    for (let i = 0; i < 6; i++) rr.push(await group.call('who', {}, { timeoutMs: 1000 }));
    assert.deepEqual(rr, [2, 3, 1, 2, 3, 1]);
    assert.equal(await group.call('who', {}, { instance: 3, timeoutMs: 1000 }), 3);
    const keyed = await group.call('who', {}, { key: 'example.com', timeoutMs: 1000 });
    assert.equal(keyed, (hashKey('example.com') % 3) + 1);
    group.retire(12);
    assert.equal(group.size(), 2);
    const after = [];
    for (let i = 0; i < 4; i++) after.push(await group.call('who', {}, { timeoutMs: 1000 }));
    assert.deepEqual([...after].sort(), [1, 1, 3, 3]);
    const none = await group.call('who', {}, { instance: 2, timeoutMs: 20 }).catch((e: unknown) => e);
    assert.equal((none as ActorCallError).code, 'ERR_NO_PEER');
  } finally {
    for (const l of links) {
      l.client.close('test over');
      l.server.close('test over');
    }
  }
});

test('a call to an instance that is not running asks for it on demand, though others run', async () => {
  const group = new PeerSet('server', () => undefined);
  let demanded = 0;
  group.onEmpty = () => void demanded++;
  const make = (instance: number) => {
    const { port1, port2 } = new MessageChannel();
    const client = new PeerLink(port1, { role: 'server', instance, uid: 20 + instance }, () => undefined, () => undefined);
    const server = new PeerLink(port2, { role: 'client', instance: 1, uid: 1 }, () => instance, () => undefined);
    return { client, server };
  };
  const one = make(1);
  const two = make(2);
  try {
    group.add(one.client);
    assert.equal(await group.call('who', {}, { instance: 1, timeoutMs: 1000 }), 1);
    assert.equal(demanded, 0, 'a running instance is not asked for');
    const waiting = group.call('who', {}, { instance: 2, timeoutMs: 5000 });
    assert.equal(demanded, 1, 'instance 2 was asked for while instance 1 runs');
    group.add(two.client);
    assert.equal(await waiting, 2);
  } finally {
    for (const l of [one, two]) {
      l.client.close('test over');
      l.server.close('test over');
    }
  }
});

test('a burst of large binaries on one link arrives whole and in order', async () => {
  const got: number[] = [];
  const p = pair({ append: (b) => {
    const { data, n } = b as { data: Uint8Array; n: number };
    assert.ok(data.every((x) => x === n));
    got.push(n);
    return data.length;
  } });
  try {
    const calls = [];
    for (let i = 0; i < 20; i++) calls.push(p.client.call('append', { data: new Uint8Array(64 * 1024).fill(i), n: i }, 5000));
    assert.deepEqual(await Promise.all(calls), Array.from({ length: 20 }, () => 64 * 1024));
    assert.deepEqual(got, Array.from({ length: 20 }, (_, i) => i));
  } finally {
    p.close();
  }
});
