/**
 * smtpd-remote-anvil: smtpd's client of the anvil actor. Answers come from
 * the actor, and each connection's disconnect names it; with no anvil
 * running the call starts it; when it does not answer in time, questions are answered
 * "within the limits" with one warning (not one per question), anvil is
 * not asked again for a while, a connect that was asked is still released,
 * and no disconnect is sent for one that was not.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { RemoteAnvil } from '../../../src/actors/smtpd/smtpd-anvil.js';
import { ActorCallError } from '../../../src/runtime/actor-error.js';
import type { PeerGroup } from '../../../src/runtime/peer.js';
import type { AnvilProtocol } from '../../../src/protocol/protocol.js';

/** A stand-in for the channels to the anvil actor. */
function fakeGroup(answer: (kind: string, body: unknown) => Promise<unknown>, live = () => 1): { group: PeerGroup<AnvilProtocol>; casts: unknown[]; calls: unknown[] } {
  const casts: unknown[] = [];
  const calls: unknown[] = [];
  const group = {
    call: (kind: string, body: unknown) => {
      calls.push([kind, body]);
      return answer(kind, body);
    },
    cast: (kind: string, body: unknown) => {
      casts.push([kind, body]);
    },
    size: live,
  } as unknown as PeerGroup<AnvilProtocol>;
  return { group, casts, calls };
}

test('RemoteAnvil asks the anvil actor and hands back its counts', async () => {
  const f = fakeGroup(async (kind, body) => (kind === 'connect' ? { count: 3, rate: 7 } : (body as { what: string }).what === 'rcpt' ? 5 : 2));
  const a = new RemoteAnvil(f.group, () => assert.fail('no warning'));
  assert.deepEqual(await a.connect('smtp', '192.0.2.1'), { count: 3, rate: 7, ticket: 1 });
  assert.equal(await a.mail('smtp', '192.0.2.1'), 2);
  assert.equal(await a.rcpt('smtp', '192.0.2.1'), 5);
  a.disconnect('smtp', '192.0.2.1', 1);
  assert.deepEqual(f.calls, [
    ['connect', { service: 'smtp', addr: '192.0.2.1', id: 1 }],
    ['event', { service: 'smtp', addr: '192.0.2.1', what: 'mail' }],
    ['event', { service: 'smtp', addr: '192.0.2.1', what: 'rcpt' }],
  ]);
  assert.deepEqual(f.casts, [['disconnect', { service: 'smtp', addr: '192.0.2.1', id: 1 }]], 'the disconnect names the connection');
});

test('an anvil that does not answer in time, or none running, lets the client through with one warning', async () => {
  const warnings: string[] = [];
  const timedOut = fakeGroup(() => Promise.reject(new ActorCallError('connect to anvil[1]: no reply in 1000 ms', 'ERR_CALL_TIMEOUT', true)));
  const a = new RemoteAnvil(timedOut.group, (t) => warnings.push(t));
  assert.deepEqual(await a.connect('smtp', '192.0.2.1'), { count: 0, rate: 0, ticket: 1 }, 'asked: its disconnect is still due');
  assert.equal(await a.auth('smtp', '192.0.2.1'), 0);
  assert.equal(timedOut.calls.length, 1, 'not asked again right after a question went unanswered');
  assert.deepEqual(await a.connect('smtp', '192.0.2.1'), { count: 0, rate: 0, counted: false });
  a.disconnect('smtp', '192.0.2.1', 1);
  assert.deepEqual(timedOut.casts, [['disconnect', { service: 'smtp', addr: '192.0.2.1', id: 1 }]], 'the asked connect is released, in case anvil counted it late');
  assert.equal(warnings.length, 1, 'one warning, not one per question');
  assert.match(warnings[0], /^problem talking to server anvil: connect to anvil\[1\]: no reply in 1000 ms; client limits are not enforced until it answers$/);

  const later = fakeGroup(async () => ({ count: 1, rate: 1 }));
  const c = new RemoteAnvil(later.group, () => undefined, 1000, 0);
  await c.connect('smtp', '192.0.2.1');
  assert.equal(later.calls.length, 1, 'with no quiet period, asked each time');

  const none = fakeGroup(() => assert.fail('nobody to call'), () => 0);
  const b = new RemoteAnvil(none.group, (t) => warnings.push(t));
  b.disconnect('smtp', '192.0.2.1');
  assert.deepEqual(none.casts, [], 'no disconnect where nothing counted the connect');
});

test('with no anvil running the question is asked all the same: the call starts anvil on demand', async () => {
  let running = 0;
  const f = fakeGroup(async () => {
    running = 1;
    return { count: 1, rate: 1 };
  }, () => running);
  const a = new RemoteAnvil(f.group, () => assert.fail('no warning'));
  assert.deepEqual(await a.connect('smtp', '192.0.2.1'), { count: 1, rate: 1, ticket: 1 });
  a.disconnect('smtp', '192.0.2.1', 1);
  assert.deepEqual(f.casts, [['disconnect', { service: 'smtp', addr: '192.0.2.1', id: 1 }]]);
});
