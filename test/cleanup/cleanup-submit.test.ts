/**
 * cleanup-submit: a cleanup refusal becomes an SMTP reply (code, enhanced code,
 * text), a discard a 250 with nothing queued, and a journal failure a 451.
 * Cleanup is the real one with header_checks; the journal is the peer that
 * records what it is given, or a real queue store for a duplicate queue id.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cleanup } from '../../src/cleanup/cleanup.js';
import { submitToQueue } from '../../src/cleanup/cleanup-submit.js';
import { QueueStore, readContent } from '../../src/store/queue-store.js';
import type { JournalProtocol } from '../../src/protocol/protocol.js';
import type { PeerGroup } from '../../src/runtime/actor.js';
import { Logger } from '../../src/util/log.js';
import { makeCleanup, smtpInput } from './cleanup-fixture.js';

let dir: string;
let cleanup: Cleanup;
const log = new Logger('test', 1);

/** A journal peer that keeps what it is asked to append, or fails every append with `failWith`. */
function journal(failWith?: Error): { peer: PeerGroup<JournalProtocol>; appended: string[] } {
  const appended: string[] = [];
  const peer = {
    call: async (kind: string, body: { message: { queueId: string } }) => {
      assert.equal(kind, 'append');
      if (failWith) throw failWith;
      appended.push(body.message.queueId);
      return {};
    },
    cast: () => undefined,
    size: () => 1,
  } as unknown as PeerGroup<JournalProtocol>;
  return { peer, appended };
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'queue-submit-'));
  await writeFile(join(dir, 'header_checks'), [
    '/^Subject:.*reject-plain/ REJECT',
    '/^Subject:.*reject-soft/ REJECT 4.7.1 try again later',
    '/^Subject:.*discard-me/ DISCARD',
    '',
  ].join('\n'));
  cleanup = makeCleanup({ header_checks: 'regexp:header_checks' }, dir);
});

after(async () => {
  await cleanup.close();
  await rm(dir, { recursive: true, force: true });
});

test('a message cleanup accepts is appended and gets its queue id', async () => {
  const j = journal();
  const out = await submitToQueue(cleanup, j.peer, log, smtpInput('Subject: fine\r\n\r\nx\r\n'));
  assert.deepEqual(out, { ok: true, queueId: '4ZxYqT1abcDEF' });
  assert.deepEqual(j.appended, ['4ZxYqT1abcDEF']);
});

test('a refusal keeps its enhanced code: 5.x.y is a 550, 4.x.y a 451', async () => {
  const j = journal();
  assert.deepEqual(await submitToQueue(cleanup, j.peer, log, smtpInput('Subject: reject-plain\r\n\r\nx\r\n')),
    { ok: false, code: 550, dsn: '5.7.1', text: 'message content rejected' });
  assert.deepEqual(await submitToQueue(cleanup, j.peer, log, smtpInput('Subject: reject-soft\r\n\r\nx\r\n')),
    { ok: false, code: 451, dsn: '4.7.1', text: 'try again later' });
  assert.deepEqual(j.appended, []);
});

test('a discarded message is answered 250 and never appended', async () => {
  const j = journal();
  assert.deepEqual(await submitToQueue(cleanup, j.peer, log, smtpInput('Subject: discard-me\r\n\r\nx\r\n')), { ok: true, queueId: '4ZxYqT1abcDEF' });
  assert.deepEqual(j.appended, []);
});

test('a journal failure is a 451 4.3.0, so the client keeps the message', async () => {
  const j = journal(Object.assign(new Error('disk full'), { code: 'ERR_STORE_FULL' }));
  assert.deepEqual(await submitToQueue(cleanup, j.peer, log, smtpInput('Subject: fine\r\n\r\nx\r\n')),
    { ok: false, code: 451, dsn: '4.3.0', text: 'Error: queue file write error' });
});

test('a queue id the store already holds is a 451 4.3.0, and the message queued under it is left as it was', async () => {
  const queueDir = await mkdtemp(join(tmpdir(), 'queue-submit-store-'));
  const store = await QueueStore.open(queueDir, { compactIntervalMs: 0 });
  try {
    const peer = {
      call: async (kind: string, body: { message: Parameters<QueueStore['append']>[0] }) => {
        assert.equal(kind, 'append');
        return { queueId: body.message.queueId, location: await store.append(body.message) };
      },
      cast: () => undefined,
      size: () => 1,
    } as unknown as PeerGroup<JournalProtocol>;
    assert.deepEqual(await submitToQueue(cleanup, peer, log, smtpInput('Subject: first\r\n\r\nx\r\n')), { ok: true, queueId: '4ZxYqT1abcDEF' });
    const before = store.get('4ZxYqT1abcDEF')!;
    const content = await readContent(queueDir, before.location);
    const again = await submitToQueue(cleanup, peer, log, smtpInput('Subject: second\r\n\r\ny\r\n', { sender: 'mallory@other.example' }));
    assert.deepEqual(again, { ok: false, code: 451, dsn: '4.3.0', text: 'Error: queue file write error' });
    const after = store.get('4ZxYqT1abcDEF')!;
    assert.equal(after.sender, 'alice@sender.example');
    assert.deepEqual(await readContent(queueDir, after.location), content);
    assert.equal(store.counts().total, 1);
  } finally {
    await store.close();
    await rm(queueDir, { recursive: true, force: true });
  }
});
