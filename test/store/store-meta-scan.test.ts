/** Tests of the message-meta scanner: it accepts and rejects exactly what the full decode and check would. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { scanMessageMeta, type MetaSummary } from '../../src/store/store-meta-scan.js';
import { copyMeta, decodeMeta, isMessageMeta, newMessageMeta } from '../../src/store/store-records.js';
import type { QueuedMessage } from '../../src/store/store-types.js';
import { makeMessage } from './store-fixture.js';

const packr = new Packr({ useRecords: false, variableMapSize: true });

function scan(bytes: Buffer): MetaSummary | undefined {
  const out: MetaSummary = { queueId: '', hold: false, ready: false };
  // Surround the meta with other bytes, as it lies inside a segment.
  const buf = Buffer.concat([Buffer.from([0xc1, 0xc1]), bytes, Buffer.from([0x93, 0x01])]);
  return scanMessageMeta(buf, 2, 2 + bytes.length, out) ? out : undefined;
}

function fullCheck(bytes: Buffer): boolean {
  const v = decodeMeta(bytes);
  return v !== undefined && isMessageMeta(v);
}

test('a new message meta scans to its queue id, hold flag and readiness', () => {
  const meta = newMessageMeta(makeMessage('0000000SCAN1', 100, 3));
  assert.deepEqual(scan(packr.pack(meta)), { queueId: '0000000SCAN1', hold: false, ready: true });
  const held = newMessageMeta(makeMessage('0000000SCAN2', 100, 1, { hold: true }));
  assert.deepEqual(scan(packr.pack(held)), { queueId: '0000000SCAN2', hold: true, ready: true });
});

test('a compaction copy with no ready recipient scans as not ready', () => {
  const meta = newMessageMeta(makeMessage('0000000SCAN3', 100, 2));
  const q = { ...meta, size: 100, location: { segment: 1, offset: 0, length: 100 } } as QueuedMessage;
  q.recipients[0].state = 'deferred';
  q.recipients[0].nextAttempt = 9e12;
  q.recipients[0].reason = 'try later';
  q.recipients[1].state = 'delivered';
  q.forcedRetry = true;
  assert.deepEqual(scan(packr.pack(copyMeta(q))), { queueId: '0000000SCAN3', hold: false, ready: false });
  q.recipients[1].state = 'ready';
  assert.equal(scan(packr.pack(copyMeta(q)))?.ready, true);
});

test('malformed metas are refused as the full check refuses them', () => {
  const good = newMessageMeta(makeMessage('0000000SCAN4', 100, 1)) as unknown as Record<string, unknown>;
  const variants: unknown[] = [
    null, 42, 'text', [good],
    { ...good, queueId: 7 },
    { ...good, queueId: undefined },
    { ...good, arrivalTime: '2024' },
    { ...good, arrivalTime: 2n ** 60n },
    { ...good, sender: null },
    { ...good, recipients: {} },
    { ...good, recipients: [{ address: 'a@b', state: 'ready' }] },
    { ...good, recipients: [{ address: 'a@b', state: 1, attempts: 0 }] },
    { ...good, recipients: ['a@b'] },
    { ...good, client: 'client' },
    { ...good, client: null },
    { ...good, client: [1, 2] },
    { ...good, headerLength: true },
    { ...good, extra: { deep: [[[[1]]]], when: new Date(0) } },
    { ...good, hold: 'yes' },
    { ...good, client: new Date(0) },
    { ...good, client: Buffer.from('client') },
    // Keys that are not strings: msgpackr takes scalars (as their strings) and refuses the rest.
    new Map<unknown, unknown>([...Object.entries(good), [1, 'x'], [null, { a: [1] }], [true, 2]]),
    new Map<unknown, unknown>([[[1, [2]], { a: [3] }], ...Object.entries(good)]),
    new Map<unknown, unknown>([...Object.entries(good), [{ k: 1 }, 2]]),
    new Map<unknown, unknown>([...Object.entries(good), [new Date(0), 2]]),
    new Map<unknown, unknown>([...Object.entries(good), [Buffer.from('k'), 2]]),
    { ...good, recipients: [new Map<unknown, unknown>([...Object.entries((good.recipients as object[])[0]), [7, [1, { x: 2 }]]])] },
    { ...good, recipients: [new Map<unknown, unknown>([...Object.entries((good.recipients as object[])[0]), [[1, 2], 'v']])] },
  ];
  for (const v of variants) {
    const bytes = packr.pack(v);
    const full = fullCheck(bytes);
    assert.equal(scan(bytes) !== undefined, full, `scan and full check disagree on ${bytes.toString('hex')}`);
  }
});

test('every truncation of a meta is refused without a throw', () => {
  const bytes = packr.pack(newMessageMeta(makeMessage('0000000SCAN5', 100, 2)));
  for (let n = 0; n < bytes.length; n++) assert.equal(scan(bytes.subarray(0, n)), undefined, `prefix ${n}`);
  assert.ok(scan(bytes));
});

test('random and bit-flipped bytes never throw, and what scans also decodes', () => {
  const bytes = packr.pack(newMessageMeta(makeMessage('0000000SCAN6', 100, 2)));
  let seed = 12345;
  const rand = (n: number): number => {
    seed = (seed * 1103515245 + 12345) >>> 0;
    return seed % n;
  };
  for (let i = 0; i < 3000; i++) {
    const b = Buffer.from(bytes);
    const flips = 1 + rand(3);
    for (let f = 0; f < flips; f++) b[rand(b.length)] = rand(256);
    const s = scan(b);
    if (s) assert.ok(fullCheck(b), `scanned but does not decode: ${b.toString('hex')}`);
  }
  for (let i = 0; i < 2000; i++) {
    const b = Buffer.alloc(1 + rand(64));
    for (let j = 0; j < b.length; j++) b[j] = rand(256);
    scan(b);
  }
  // Deep nesting is refused, not a stack overflow.
  const deep = Buffer.concat([Buffer.from([0x81, 0xa1, 0x78]), Buffer.alloc(100_000, 0x91), Buffer.from([0x01])]);
  assert.equal(scan(deep), undefined);
});
