/**
 * queue-listing: the whole mailq / postqueue -j listing from pages of
 * queued messages, written line by line: mailq's heading, one entry per
 * message and the "-- N Kbytes in M Requests." footer, or one JSON object
 * a line. Used by the daemon's control command and by the read-only
 * listing while the daemon is down, so both print the same. Resolves with
 * the number of messages; errors come only from the pages.
 */
import type { QueuedMessage } from '../store/store-types.js';
import { formatMailqEntry, formatPostqueueJson, mailqFooter, mailqHeader, queueNameOf } from './queue-format.js';

export async function writeQueueListing(
  pages: AsyncIterable<QueuedMessage[]> | Iterable<QueuedMessage[]>,
  json: boolean,
  line: (text: string) => void,
): Promise<number> {
  const now = Date.now();
  let count = 0;
  let bytes = 0;
  if (!json) line(mailqHeader());
  for await (const page of pages) {
    for (const m of page) {
      count++;
      bytes += m.size;
      line(json ? formatPostqueueJson(m, queueNameOf(m)) + '\n' : formatMailqEntry(m, now));
    }
  }
  if (!json) line(mailqFooter(bytes, count));
  return count;
}
