/**
 * frame.bench: tinybench micro-benchmark of journal frame encode and
 * decode (scan + checksum + msgpack meta) for 1 KiB and 64 KiB messages,
 * and recovery's cheaper path (scan + checksum + meta scan, no objects).
 */
import { Bench } from 'tinybench';
import { scanFrame } from '../../src/store/store-frame.js';
import { scanMessageMeta, type MetaSummary } from '../../src/store/store-meta-scan.js';
import { decodeMeta, messageFrame, newMessageMeta } from '../../src/store/store-records.js';
import type { NewMessage } from '../../src/store/store-types.js';

function message(size: number): NewMessage {
  return {
    queueId: '0Abcdefgh123',
    arrivalTime: Date.now(),
    sender: 'sender@example.com',
    recipients: [{ address: 'rcpt@example.net', orcpt: 'rfc822;rcpt@example.net', notify: ['FAILURE'] }],
    client: { name: 'client.example.com', addr: '192.0.2.1', port: 40000, helo: 'client.example.com', protocol: 'ESMTP' },
    headerLength: 300,
    content: Buffer.alloc(size, 0x61),
  };
}

const bench = new Bench({ time: 500 });
const summary: MetaSummary = { queueId: '', hold: false, ready: false };
for (const size of [1024, 64 * 1024]) {
  const m = message(size);
  const f = messageFrame(newMessageMeta(m), m.content);
  const flat = Buffer.concat([f.head, f.blob as Uint8Array]);
  bench.add(`encode ${size / 1024} KiB`, () => {
    messageFrame(newMessageMeta(m), m.content);
  });
  bench.add(`decode ${size / 1024} KiB`, () => {
    const s = scanFrame(flat, 0);
    if (s.status !== 'ok' || !decodeMeta(flat, s.metaStart, s.metaEnd)) throw new Error('bad frame');
  });
  bench.add(`scan ${size / 1024} KiB`, () => {
    const s = scanFrame(flat, 0);
    if (s.status !== 'ok' || !scanMessageMeta(flat, s.metaStart, s.metaEnd, summary)) throw new Error('bad frame');
  });
}
await bench.run();
console.table(bench.table());
