/** Tests of the queue index: packed and object entries read the same, and slots and arena chunks are reused safely. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { QueueIndex } from '../../src/store/store-index.js';
import { newMessageMeta } from '../../src/store/store-records.js';
import type { QueuedMessage } from '../../src/store/store-types.js';
import { makeMessage } from './store-fixture.js';

const packr = new Packr({ useRecords: false, variableMapSize: true });

function idOf(i: number): string {
  return `IDX${String(i).padStart(9, '0')}`;
}

function putPacked(index: QueueIndex, i: number, extra: Parameters<typeof makeMessage>[3] = {}): QueuedMessage {
  const m = makeMessage(idOf(i), 100 + i, 1 + (i % 3), extra);
  const meta = newMessageMeta(m);
  const bytes = packr.pack(meta);
  // The index must copy the bytes: hand it a buffer that is then overwritten.
  const buf = Buffer.concat([Buffer.alloc(7, 1), bytes, Buffer.alloc(5, 2)]);
  const location = { segment: 1 + (i % 4), offset: 1000 * i, length: m.content.length };
  index.putPacked(meta.queueId, buf, 7, 7 + bytes.length, meta.hold, meta.recipients.length > 0, location);
  buf.fill(0xff);
  return { ...meta, size: m.content.length, location };
}

test('a packed message reads back as the object it was packed from, afresh each time', () => {
  const index = new QueueIndex();
  const want = putPacked(index, 1, { hold: true });
  const got = index.get(idOf(1));
  assert.deepEqual(got, want);
  assert.notEqual(index.get(idOf(1)), got, 'a packed message is decoded afresh');
  assert.deepEqual(index.counts(0), { incoming: 0, active: 0, deferred: 0, hold: 1, corrupt: 0, total: 1 });
});

test('promote keeps changes; relocate moves only from the expected place; remove frees the slot for reuse', () => {
  const index = new QueueIndex();
  for (let i = 0; i < 10; i++) putPacked(index, i);
  const q = index.promote(idOf(3)) as QueuedMessage;
  q.recipients[0].state = 'deferred';
  assert.equal(index.get(idOf(3)), q);
  assert.equal(index.get(idOf(3))?.recipients[0].state, 'deferred');
  const from = { ...(index.get(idOf(4)) as QueuedMessage).location };
  assert.equal(index.relocate(idOf(4), { ...from, offset: from.offset + 1 }, { segment: 99, offset: 5, length: from.length }), false);
  assert.equal(index.relocate(idOf(4), from, { segment: 99, offset: 5, length: from.length }), true);
  assert.deepEqual(index.get(idOf(4))?.location, { segment: 99, offset: 5, length: from.length });
  assert.equal(index.remove(idOf(5)), true);
  assert.equal(index.remove(idOf(5)), false);
  const again = putPacked(index, 50);
  assert.deepEqual(index.get(idOf(50)), again);
  for (let i = 0; i < 10; i++) if (i !== 5 && i !== 3 && i !== 4) assert.equal(index.get(idOf(i))?.queueId, idOf(i));
  assert.equal(index.size, 10);
});

test('many packed messages across arena chunks survive removals, reuse and listing in id order', () => {
  const index = new QueueIndex();
  const n = 30_000;
  const kept = new Map<string, QueuedMessage>();
  // Out of order, so listing must sort.
  for (let k = 0; k < n; k++) {
    const i = (k * 7919) % n;
    kept.set(idOf(i), putPacked(index, i));
  }
  for (let i = 0; i < n; i += 3) {
    index.remove(idOf(i));
    kept.delete(idOf(i));
  }
  for (let i = n; i < n + 5000; i++) kept.set(idOf(i), putPacked(index, i));
  assert.equal(index.size, kept.size);
  let after: string | undefined;
  let seen = 0;
  let last = '';
  for (;;) {
    const page = index.list(after, 997);
    for (const q of page.messages) {
      assert.ok(q.queueId > last);
      last = q.queueId;
      assert.deepEqual(q, kept.get(q.queueId));
      seen++;
    }
    if (!page.next) break;
    after = page.next;
  }
  assert.equal(seen, kept.size);
  let ready = 0;
  for (const q of index.values()) if (q.recipients.some((r) => r.state === 'ready')) ready++;
  assert.equal(index.counts(0).active, ready);
  let located = 0;
  index.forEachLocation((id, segment, size) => {
    const q = kept.get(id) as QueuedMessage;
    assert.equal(segment, q.location.segment);
    assert.equal(size, q.size);
    located++;
  });
  assert.equal(located, kept.size);
});

test('ids of any bytes list in order, and a removed and re-added id is listed once', () => {
  const index = new QueueIndex();
  const ids = ['b', 'a\u00e9', 'a', 'ab', 'z'.repeat(300), 'M'];
  for (const id of ids) putPackedAs(index, id);
  assert.equal(index.remove('ab'), true);
  putPackedAs(index, 'ab');
  putPackedAs(index, 'b');
  const listed = index.list(undefined, 100).messages.map((q) => q.queueId);
  assert.deepEqual(listed, [...ids].sort((x, y) => Buffer.compare(Buffer.from(x), Buffer.from(y))));
  assert.deepEqual(index.list('ab', 2).messages.map((q) => q.queueId), ['a\u00e9', 'b']);
  assert.equal(index.size, ids.length);
  assert.equal(index.bytesBefore(99), ids.length * 10);
  assert.equal(index.bytesBefore(1), 0);
});

function putPackedAs(index: QueueIndex, id: string): void {
  const meta = newMessageMeta(makeMessage(id, 10, 1));
  const bytes = packr.pack(meta);
  index.putPacked(id, bytes, 0, bytes.length, false, true, { segment: 7, offset: 0, length: 10 });
}
