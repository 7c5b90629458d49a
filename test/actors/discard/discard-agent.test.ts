import { test } from 'node:test';
import assert from 'node:assert/strict';
import { DiscardAgent } from '../../../src/actors/discard/discard-agent.js';
import { captureLog, makeRequest } from '../smtp/smtp-test-kit.js';

test('discard reports every recipient sent with the nexthop text, relay=none', async () => {
  const { log, lines } = captureLog();
  const agent = new DiscardAgent({ log });
  const res = await agent.deliver(makeRequest({ transport: 'discard', nexthop: 'spam trap', to: ['x@example.com', 'y@example.com'] }));
  assert.deepEqual(res.outcomes, [
    { index: 0, state: 'delivered', dsn: '2.0.0', reason: 'spam trap', relay: 'none' },
    { index: 1, state: 'delivered', dsn: '2.0.0', reason: 'spam trap', relay: 'none' },
  ]);
  await new Promise((r) => setImmediate(r));
  assert.ok(lines.some((l) => /ABC123: to=<y@example\.com>, relay=none, delay=[\d.]+, delays=[\d./]+, dsn=2\.0\.0, status=sent \(spam trap\)$/.test(l)));
});

test('discard without a nexthop text says "discarded"', async () => {
  const agent = new DiscardAgent({ log: captureLog().log });
  const res = await agent.deliver(makeRequest({ transport: 'discard', nexthop: '' }));
  assert.equal(res.outcomes[0].reason, 'discarded');
});
