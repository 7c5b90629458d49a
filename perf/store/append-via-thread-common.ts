/**
 * append-via-thread-common: what the append benches share: the
 * test message, the monotonic clock, percentiles, and a log of every
 * fdatasync/fsync this thread issues (FileHandle.prototype is wrapped, for
 * the benchmark only, so each flush's sync can be timed exactly).
 */
import { open, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { NewMessage } from '../../src/store/store-types.js';

/** Milliseconds on the process-wide monotonic clock: comparable across threads. */
export const now = (): number => Number(process.hrtime.bigint()) / 1e6;

/** A test message of `size` content bytes; content is a plain Uint8Array (it crosses threads). */
export function message(queueId: string, size: number): NewMessage {
  return {
    queueId,
    arrivalTime: Date.now(),
    sender: 'sender@example.com',
    recipients: [{ address: 'rcpt@example.net' }],
    client: { name: 'localhost', addr: '127.0.0.1', protocol: 'ESMTP' },
    headerLength: 20,
    content: new Uint8Array(size).fill(0x61),
  };
}

/** The p-quantile (0..1) of ascending `sorted`; NaN when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return NaN;
  return sorted[Math.min(sorted.length - 1, Math.floor(sorted.length * p))];
}

/** Sync calls as flat triples: kind (0 fdatasync, 1 fsync), start, end. */
export interface SyncLog {
  take(): number[];
}

interface Syncable {
  datasync(): Promise<void>;
  sync(): Promise<void>;
}

let installed: { log: number[] } | undefined;

/** Wraps FileHandle's datasync and sync in this thread so each call is logged. */
export async function recordSyncs(dir: string): Promise<SyncLog> {
  if (!installed) {
    const state = { log: [] as number[] };
    const probe = join(dir, '.probe');
    const fh = await open(probe, 'w');
    const proto = Object.getPrototypeOf(fh) as Syncable;
    await fh.close();
    await unlink(probe);
    /** `original`, timed: each call logged as kind, start, end. */
    const logged = (original: () => Promise<void>, kind: number) => async function (this: Syncable): Promise<void> {
      const t = now();
      try {
        await original.call(this);
      } finally {
        state.log.push(kind, t, now());
      }
    };
    proto.datasync = logged(proto.datasync, 0);
    proto.sync = logged(proto.sync, 1);
    installed = state;
  }
  const state = installed;
  return {
    take(): number[] {
      const out = state.log;
      state.log = [];
      return out;
    },
  };
}
