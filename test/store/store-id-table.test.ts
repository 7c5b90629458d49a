/** Tests of the id table: it agrees with a Map through adds and backward-shift deletes, for any id bytes. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { IdTable, KeyEncoder } from '../../src/store/store-id-table.js';

/** Slots that hold their keys as byte strings, as the queue index holds them in its arena. */
class Slots {
  keys: Buffer[] = [];
  hashes: number[] = [];
  readonly table = new IdTable({
    hashOf: (slot) => this.hashes[slot],
    keyEquals: (slot, key, length) => this.keys[slot].equals(key.subarray(0, length)),
  });
}

test('finds every id through random adds and deletes, with ids that collide in their buckets', () => {
  const enc = new KeyEncoder();
  const s = new Slots();
  const model = new Map<string, number>();
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
    return seed % n;
  };
  // Few distinct ids for many operations: long probe runs, many deletions inside them.
  for (let op = 0; op < 60_000; op++) {
    const id = `Q${rand(5000)}`;
    const length = enc.encode(id);
    const hash = enc.hash(length);
    const found = s.table.find(enc.buf, length, hash);
    assert.equal(found, model.get(id) ?? -1, `find ${id} at op ${op}`);
    if (found < 0) {
      const slot = s.keys.length;
      s.keys.push(Buffer.from(enc.buf.subarray(0, length)));
      s.hashes.push(hash);
      s.table.add(slot, hash);
      model.set(id, slot);
    } else if (rand(2) === 0) {
      assert.equal(s.table.delete(found, hash), true);
      assert.equal(s.table.delete(found, hash), false);
      model.delete(id);
    }
  }
  for (const [id, slot] of model) {
    const length = enc.encode(id);
    assert.equal(s.table.find(enc.buf, length, enc.hash(length)), slot);
  }
});

test('encodes non-ASCII and long ids as UTF-8, and tells them apart', () => {
  const enc = new KeyEncoder();
  const long = 'L'.repeat(1000) + 'é';
  for (const id of ['ABCDEF123456', 'caf\u00e9', 'caf\u00e8', '\u{1F4E8}mail', long]) {
    const length = enc.encode(id);
    assert.equal(length, Buffer.byteLength(id, 'utf8'));
    assert.equal(enc.buf.toString('utf8', 0, length), id);
  }
  const s = new Slots();
  const ids = ['caf\u00e9', 'caf\u00e8', long, ''];
  ids.forEach((id, slot) => {
    const length = enc.encode(id);
    s.keys.push(Buffer.from(enc.buf.subarray(0, length)));
    s.hashes.push(enc.hash(length));
    s.table.add(slot, s.hashes[slot]);
  });
  ids.forEach((id, slot) => {
    const length = enc.encode(id);
    assert.equal(s.table.find(enc.buf, length, enc.hash(length)), slot);
  });
  const length = enc.encode('caf\u00ea');
  assert.equal(s.table.find(enc.buf, length, enc.hash(length)), -1);
});
