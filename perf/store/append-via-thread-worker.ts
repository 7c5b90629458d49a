/**
 * append-via-thread-worker: the store side of append-via-thread. Opens a
 * QueueStore in workerData.dir and answers { id, message } on parentPort
 * with { id } once store.append has resolved (after fdatasync), as the
 * journal actor does for smtpd. For the tail analysis it also keeps, per
 * append, when the request arrived and when the append resolved, and the
 * start and end of every fdatasync the store issued; { control: 'report' }
 * returns them, { control: 'close' } closes the store. All times are
 * milliseconds on the process-wide monotonic clock (same in every thread).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { QueueStore } from '../../src/store/queue-store.js';
import type { NewMessage } from '../../src/store/store-types.js';
import { now, recordSyncs, type SyncLog } from './append-via-thread-common.js';

interface AppendRequest {
  id: number;
  message: NewMessage;
}

interface ControlRequest {
  control: 'report' | 'close';
}

const port = parentPort;
if (!port) throw new Error('append-via-thread-worker must run in a worker thread');
const { dir } = workerData as { dir: string };

const syncs: SyncLog = await recordSyncs(dir);
const store = await QueueStore.open(dir, { compactIntervalMs: 0 });

// Per append: id, arrival, resolution (flat, to keep the hot path cheap).
let trace: number[] = [];

port.on('message', (msg: AppendRequest | ControlRequest) => {
  if ('control' in msg) {
    if (msg.control === 'report') {
      port.postMessage({ control: 'report', trace, syncs: syncs.take(), flushes: store.stats.flushes, records: store.stats.records });
      trace = [];
    } else {
      void store.close().then(() => port.postMessage({ control: 'closed' }));
    }
    return;
  }
  const received = now();
  const { id } = msg;
  store.append(msg.message).then(
    () => {
      trace.push(id, received, now());
      port.postMessage({ id });
    },
    (err: unknown) => port.postMessage({ id, error: String(err) }),
  );
});

port.postMessage({ control: 'ready' });
