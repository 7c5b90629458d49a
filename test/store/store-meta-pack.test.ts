/** Tests of the meta packer: the bytes read back as msgpackr's packing of newMessageMeta, and odd fields fall back. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Packr } from 'msgpackr';
import { MessageMetaPacker } from '../../src/store/store-meta-pack.js';
import { scanMessageMeta, type MetaSummary } from '../../src/store/store-meta-scan.js';
import { decodeMeta, KIND, newMessageFrame, newMessageMeta } from '../../src/store/store-records.js';
import { BODY_HEADER, FRAME_HEADER, scanFrame } from '../../src/store/store-frame.js';
import type { NewMessage } from '../../src/store/store-types.js';
import { makeMessage } from './store-fixture.js';

const packr = new Packr({ useRecords: false, variableMapSize: true });

function packs(m: NewMessage): Buffer {
  const p = new MessageMetaPacker();
  const n = p.pack(m);
  assert.ok(n > 0, 'the fast path takes this message');
  return Buffer.from(p.buf.subarray(0, n));
}

const cases: [string, NewMessage][] = [
  ['every optional field', makeMessage('AAAAAAAAAAAA', 100, 3, { hold: true, smtputf8: true })],
  ['no optional field', { queueId: 'B1', arrivalTime: 0, sender: '', recipients: [{ address: 'a@b' }], client: { name: 'unknown', addr: '', protocol: 'local' }, headerLength: 0, content: new Uint8Array(0) }],
  ['non-ASCII and long strings, odd numbers', makeMessage('C'.repeat(40), 10, 2, {
    sender: 'j\u00fcrgen@\u00e9xample.org',
    arrivalTime: 1_700_000_000_123.5,
    headerLength: 70_000,
    client: { name: 'n'.repeat(300), addr: '\u{1F4E8}'.repeat(20_000), protocol: 'ESMTPSA', port: 65535, saslUser: 'u\u00df' },
    envid: 'e'.repeat(255),
  })],
  ['many recipients, negative and large numbers', makeMessage('D', 10, 40, { arrivalTime: -5, headerLength: 2 ** 40 })],
  ['more numbers', makeMessage('E', 10, 1, { arrivalTime: -200, headerLength: 200, client: { name: 'x', addr: 'y', protocol: 'SMTP', port: -40000 } })],
  ['a 32-bit boundary', makeMessage('F', 10, 1, { arrivalTime: 0xffff_ffff, headerLength: -0x8000_0000 })],
  ['REQUIRETLS and TLS-Required: No', makeMessage('H', 10, 1, { requiretls: true, tlsRequiredNo: true, smtputf8: false })],
  ['the original recipient', makeMessage('G', 10, 1, {
    recipients: [
      { address: 'b@c', orcpt: 'rfc822;x@y', notify: ['SUCCESS'], origRcpt: 'alias@y' },
      { address: 'd@e', origRcpt: '\u00e9lan@y' },
      { address: 'f@g' },
    ],
  })],
];

for (const [name, m] of cases) {
  test(`packs like msgpackr: ${name}`, () => {
    const fast = packs(m);
    const slow = packr.pack(newMessageMeta(m));
    assert.deepEqual(decodeMeta(fast), decodeMeta(slow));
    assert.deepEqual(decodeMeta(fast), JSON.parse(JSON.stringify(newMessageMeta(m))));
    const a: MetaSummary = { queueId: '', hold: false, ready: false };
    const b: MetaSummary = { queueId: '', hold: false, ready: false };
    assert.equal(scanMessageMeta(fast, 0, fast.length, a), true);
    assert.equal(scanMessageMeta(slow, 0, slow.length, b), true);
    assert.deepEqual(a, b);
  });
}

test('a message with fields of unexpected types takes msgpackr and gives the same record', () => {
  const odd = [
    makeMessage('G', 10, 1, { client: { name: 'x', addr: 'y', protocol: 'SMTP', port: '25' as unknown as number } }),
    makeMessage('H', 10, 1, { hold: 1 as unknown as boolean }),
    makeMessage('I', 10, 1, { recipients: [{ address: 'a@b', orcpt: null as unknown as string }] }),
  ];
  for (const m of odd) {
    assert.equal(new MessageMetaPacker().pack(m), -1);
    const frame = newMessageFrame(m);
    const whole = Buffer.concat([frame.head, frame.blob ?? new Uint8Array(0)]);
    const scan = scanFrame(whole, 0);
    assert.equal(scan.status, 'ok');
    if (scan.status !== 'ok') continue;
    assert.equal(scan.kind, KIND.MESSAGE);
    assert.deepEqual(decodeMeta(whole, scan.metaStart, scan.metaEnd), decodeMeta(packr.pack(newMessageMeta(m))));
    assert.equal(frame.blobOffset, scan.blobOffset);
  }
});

test('the frame of a new message carries the packed meta and the content, checksummed', () => {
  const m = makeMessage('JJJJJJJJJJJJ', 2000, 2);
  const frame = newMessageFrame(m);
  const whole = Buffer.concat([frame.head, frame.blob ?? new Uint8Array(0)]);
  assert.equal(whole.length, frame.size);
  const scan = scanFrame(whole, 0);
  assert.equal(scan.status, 'ok');
  if (scan.status !== 'ok') return;
  assert.equal(scan.metaStart, FRAME_HEADER + BODY_HEADER);
  assert.deepEqual(decodeMeta(whole, scan.metaStart, scan.metaEnd), decodeMeta(packr.pack(newMessageMeta(m))));
  assert.deepEqual(whole.subarray(scan.blobOffset), Buffer.from(m.content));
});
