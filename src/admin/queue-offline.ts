/**
 * queue-offline: the queue listing and postcat view while the daemon is
 * down, read straight from the journal as Postfix's postqueue -p runs
 * showq on the spool itself. The journal is replayed read-only
 * (store-recovery's readJournalReadOnly): nothing under $queue_directory
 * is written, repaired, created or chmodded, so the next start recovers it
 * as it would have. A queue directory without a journal is an empty
 * queue. listQueueOffline resolves with the number of messages;
 * showQueuedOffline rejects "queue id ID: not found". Other errors (an
 * unreadable segment) reject with the system's reason.
 */
import { QueueIndex } from '../store/store-index.js';
import { readJournalReadOnly } from '../store/store-recovery.js';
import { readContent } from '../store/store-read.js';
import { formatPostcat } from './queue-format.js';
import { writeQueueListing } from './queue-listing.js';

const PAGE = 2000;

async function loadIndex(queueDir: string): Promise<QueueIndex> {
  const index = new QueueIndex();
  try {
    await readJournalReadOnly(queueDir, index);
  } catch (err) {
    // Never started here: no journal directory, no mail.
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
  }
  return index;
}

function* pages(index: QueueIndex): Generator<import('../store/store-types.js').QueuedMessage[]> {
  let after: string | undefined;
  for (;;) {
    const page = index.list(after, PAGE);
    if (page.messages.length > 0) yield page.messages;
    if (!page.next) return;
    after = page.next;
  }
}

/** mailq (or postqueue -j with `json`) from the journal on disk; lines go to `line`. */
export async function listQueueOffline(queueDir: string, json: boolean, line: (text: string) => void): Promise<number> {
  return writeQueueListing(pages(await loadIndex(queueDir)), json, line);
}

/** postcat -q from the journal on disk. */
export async function showQueuedOffline(
  queueDir: string,
  queueId: string,
  opts: { headers?: true; body?: true; envelope?: true },
): Promise<string> {
  const index = await loadIndex(queueDir);
  const message = index.get(queueId);
  if (!message) throw new Error(`queue id ${queueId}: not found`);
  const content = await readContent(queueDir, message.location);
  return formatPostcat(message, content, opts);
}
