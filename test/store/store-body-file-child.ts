/**
 * store-body-file-child: the process the body-file crash test kills. It
 * opens the store in argv[2] and, eight at a time, receives large messages
 * into spool files and appends them; on stdout "A <id> <sha256>" once an
 * append is acknowledged (the digest of the content as queued).
 */
import { createHash } from 'node:crypto';
import { QueueIdGenerator } from '../../src/store/queue-store.js';
import { SpoolFile } from '../../src/store/store-spool.js';
import { makeMessage, openStore } from './store-fixture.js';

const dir = process.argv[2];
const store = await openStore(dir);
const gen = new QueueIdGenerator(5);

async function one(): Promise<void> {
  const id = gen.next();
  const head = Buffer.from(`Subject: ${id}\r\n\r\n`);
  const body = Buffer.alloc(1_200_000 + (id.charCodeAt(11) % 7) * 10_000, id);
  const spool = SpoolFile.create(dir, id);
  spool.write(head);
  for (let at = 0; at < body.length; at += 256 * 1024) spool.write(body.subarray(at, at + 256 * 1024));
  await spool.finish();
  const headers = Buffer.concat([Buffer.from(`Received: by test; ${id}\r\n`), head]);
  await store.append(makeMessage(id, 10, 1, { content: headers, headerLength: headers.length, bodyFile: { offset: head.length, length: body.length } }));
  process.stdout.write(`A ${id} ${createHash('sha256').update(headers).update(body).digest('hex')}\n`);
}

async function worker(): Promise<void> {
  for (;;) await one();
}

await Promise.all(Array.from({ length: 8 }, worker));
