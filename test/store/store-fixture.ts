/**
 * store-fixture: helpers for the store's tests: temporary queue directories,
 * stores opened without the compaction timer, and messages whose content
 * can be rebuilt from their queue id.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueStore, type QueueStoreOptions } from '../../src/store/queue-store.js';
import type { NewMessage } from '../../src/store/store-types.js';

/** A fresh queue directory; remove it with `cleanup`. */
export async function tempQueueDir(): Promise<{ dir: string; cleanup: () => Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), 'postrider-store-'));
  return { dir, cleanup: () => rm(dir, { recursive: true, force: true }) };
}

/** Opens the store in `dir` with background compaction off (a test compacts when it means to), plus `opts`. */
export function openStore(dir: string, opts: QueueStoreOptions = {}): Promise<QueueStore> {
  return QueueStore.open(dir, { compactIntervalMs: 0, ...opts });
}

/** The content a test message with this id and size carries. */
export function contentFor(queueId: string, size: number): Buffer {
  const header = `Subject: ${queueId}\r\n\r\n`;
  const buf = Buffer.alloc(Math.max(size, header.length));
  buf.write(header, 0, 'latin1');
  for (let i = header.length; i < buf.length; i++) buf[i] = 0x41 + ((i + queueId.charCodeAt(i % queueId.length)) % 26);
  return buf;
}

/** A complete NewMessage for tests. */
export function makeMessage(queueId: string, size = 1024, recipients = 2, extra: Partial<NewMessage> = {}): NewMessage {
  const header = `Subject: ${queueId}\r\n\r\n`;
  return {
    queueId,
    arrivalTime: 1_700_000_000_000,
    sender: 'sender@example.com',
    recipients: Array.from({ length: recipients }, (_, i) => ({
      address: `rcpt${i}@example.net`,
      orcpt: `rfc822;rcpt${i}@example.net`,
      notify: ['FAILURE', 'DELAY'] as ('FAILURE' | 'DELAY')[],
    })),
    envid: `env-${queueId}`,
    ret: 'HDRS',
    bodyType: '8BITMIME',
    client: { name: 'client.example.com', addr: '192.0.2.1', port: 40000, helo: 'client.example.com', protocol: 'ESMTP' },
    headerLength: header.length,
    content: contentFor(queueId, size),
    ...extra,
  };
}
