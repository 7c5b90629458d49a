import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ErrorAgent } from '../../../src/actors/error/error-agent.js';
import { splitDsnText } from '../../../src/global/dsn-status.js';
import { captureLog, makeRequest } from '../smtp/smtp-test-kit.js';

test('error bounces every recipient with the nexthop text, 5.0.0 by default', async () => {
  const { log, lines } = captureLog();
  const agent = new ErrorAgent({ log });
  const res = await agent.deliver(makeRequest({ transport: 'error', nexthop: 'mail for this domain is not accepted', to: ['x@example.com', 'y@example.com'] }));
  for (const o of res.outcomes) {
    assert.equal(o.state, 'bounced');
    assert.equal(o.dsn, '5.0.0');
    assert.equal(o.reason, 'mail for this domain is not accepted');
    assert.equal(o.relay, 'none');
  }
  await new Promise((r) => setImmediate(r));
  assert.ok(lines.some((l) => /to=<x@example\.com>, relay=none, .*dsn=5\.0\.0, status=bounced \(mail for this domain is not accepted\)$/.test(l)));
});

test('a leading status code in the text becomes the dsn; a 4.x.y code defers', async () => {
  const agent = new ErrorAgent({ log: captureLog().log });
  const r1 = await agent.deliver(makeRequest({ transport: 'error', nexthop: '5.1.1 User unknown' }));
  assert.deepEqual([r1.outcomes[0].state, r1.outcomes[0].dsn, r1.outcomes[0].reason], ['bounced', '5.1.1', 'User unknown']);
  const r2 = await agent.deliver(makeRequest({ transport: 'error', nexthop: '4.3.2 try later' }));
  assert.deepEqual([r2.outcomes[0].state, r2.outcomes[0].dsn], ['deferred', '4.3.2']);
});

test('the retry transport defers with 4.0.0', async () => {
  const agent = new ErrorAgent({ log: captureLog().log });
  const res = await agent.deliver(makeRequest({ transport: 'retry', nexthop: 'destination on hold' }));
  assert.deepEqual([res.outcomes[0].state, res.outcomes[0].dsn, res.outcomes[0].reason], ['deferred', '4.0.0', 'destination on hold']);
  assert.deepEqual(splitDsnText('5.7.1', '5.0.0'), { dsn: '5.7.1', text: '' });
});

test('retry never bounces: a 5.x.y text defers as its 4.x.y counterpart', async () => {
  const agent = new ErrorAgent({ log: captureLog().log });
  const res = await agent.deliver(makeRequest({ transport: 'retry', nexthop: '5.7.1 relay suspended', to: ['a@example.com', 'b@example.com'] }));
  for (const o of res.outcomes) assert.deepEqual([o.state, o.dsn, o.reason], ['deferred', '4.7.1', 'relay suspended']);
  const forced = await new ErrorAgent({ log: captureLog().log, mode: 'retry' }).deliver(makeRequest({ transport: 'error', nexthop: '5.1.1 gone' }));
  assert.deepEqual([forced.outcomes[0].state, forced.outcomes[0].dsn], ['deferred', '4.1.1']);
});

test('soft_bounce: error defers with the 4.x.y twin of its status and logs status=SOFTBOUNCE', async () => {
  const { log, lines } = captureLog();
  const res = await new ErrorAgent({ log, softBounce: true }).deliver(makeRequest({ transport: 'error', nexthop: '5.1.1 local delivery is not supported', to: ['x@example.com'] }));
  assert.deepEqual([res.outcomes[0].state, res.outcomes[0].dsn, res.outcomes[0].reason], ['deferred', '4.1.1', 'local delivery is not supported']);
  await new Promise((r) => setImmediate(r));
  assert.ok(lines.some((l) => /to=<x@example\.com>, relay=none, .*dsn=4\.1\.1, status=SOFTBOUNCE \(local delivery is not supported\)$/.test(l)), lines.join('\n'));
});
