/**
 * qmgr-notice: the failure notice that ends a pass. Postfix's delivery
 * agents log each failed recipient to the message's bounce log, and qmgr,
 * which knows when the message's pass through the active queue is over,
 * asks bounce to flush that log as one notice. Here the journal keeps each
 * failed recipient with its reason, dsn and relay (so a crash loses none),
 * and at the end of the pass qmgr lists every bounced or expired recipient
 * that no earlier notice listed. Pure; never throws on a well-formed
 * QueuedMessage.
 */
import type { QueuedMessage } from '../../store/store-types.js';
import { owesNotice, type NoticeRecipient } from './qmgr-entry.js';
import { notifyAllows } from './qmgr-policy.js';

/** The failure notice a pass ends with. */
export interface FailureNotice {
  /** Who the notice lists: failed, not yet listed, and NOTIFY allowing it (may be empty: then no notice is sent). */
  recipients: NoticeRecipient[];
  /** Every failed recipient now accounted for, NOTIFY=NEVER ones included: the journal marks them so no later notice repeats them. */
  noticed: number[];
}

/** The failure notice `message` owes now; undefined when no failed recipient waits for one. */
export function failureNotice(message: QueuedMessage): FailureNotice | undefined {
  const due: FailureNotice = { recipients: [], noticed: [] };
  message.recipients.forEach((r, index) => {
    if (!owesNotice(r)) return;
    due.noticed.push(index);
    if (!notifyAllows(r.notify, 'failure')) return;
    // An outcome always carries both; the defaults guard a hand-edited journal.
    const n: NoticeRecipient = { index, dsn: r.dsn ?? (r.state === 'expired' ? '4.7.0' : '5.0.0'), reason: r.reason ?? 'delivery failed' };
    if (r.relay !== undefined) n.relay = r.relay;
    if (r.reply !== undefined) n.reply = r.reply;
    if (r.command !== undefined) n.command = r.command;
    due.recipients.push(n);
  });
  return due.noticed.length > 0 ? due : undefined;
}
