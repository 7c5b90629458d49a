/**
 * journal-notice: which recipients a failure notice lists, and when.
 * Postfix's qmgr logs each failed recipient to the message's bounce log and
 * flushes that log as one notice at the end of the message's pass through
 * the active queue. Postrider's qmgr reports outcomes per delivery request,
 * so the journal finds the end of a pass itself: it is over when no
 * recipient is left untried ('ready'); every other recipient is delivered,
 * failed, or deferred to a later pass. The notice then lists each bounced or
 * expired recipient no earlier notice listed, with its own reason, dsn and
 * relay (kept in the journal, so a crash does not lose them). A retry pass
 * has no untried recipients, so there each failing delivery request makes
 * its own notice. Pure; never throws on a well-formed QueuedMessage.
 */
import { afterOutcomes } from '../../store/queue-store.js';
import type { QueuedMessage, RecipientOutcome } from '../../store/store-types.js';
import { notifyAllows } from '../../global/dsn-notify.js';

/** One recipient of a failure notice, as the bounce actor's 'notify' takes it. */
export interface NoticeRecipient {
  index: number;
  dsn: string;
  reason: string;
  relay?: string;
}

/** The notice due with a set of outcomes. */
export interface DueNotice {
  /** Who the notice lists: failed, not yet listed, and NOTIFY allowing it (may be empty: then no notice is sent). */
  recipients: NoticeRecipient[];
  /** Every failed recipient now accounted for, NOTIFY=NEVER ones included: recorded as notified with the outcomes. */
  noticed: number[];
}

/**
 * The failure notice `outcomes` make due for `message`: undefined while a
 * recipient is left untried in this pass, or when no failed recipient is
 * waiting for a notice. `message` is not changed.
 */
export function dueFailureNotice(message: QueuedMessage, outcomes: readonly RecipientOutcome[]): DueNotice | undefined {
  const after = afterOutcomes(message, outcomes);
  if (after.recipients.some((r) => r.state === 'ready')) return undefined;
  const due: DueNotice = { recipients: [], noticed: [] };
  after.recipients.forEach((r, index) => {
    if ((r.state !== 'bounced' && r.state !== 'expired') || r.failureNotified) return;
    due.noticed.push(index);
    if (!notifyAllows(r.notify, 'failure')) return;
    // An outcome always carries both; the defaults guard a hand-edited journal.
    const n: NoticeRecipient = { index, dsn: r.dsn ?? (r.state === 'expired' ? '4.7.0' : '5.0.0'), reason: r.reason ?? 'delivery failed' };
    if (r.relay !== undefined) n.relay = r.relay;
    due.recipients.push(n);
  });
  return due.noticed.length > 0 ? due : undefined;
}
