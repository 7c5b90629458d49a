/**
 * qmgr-verify: the report of a verify-only message (sendmail -bv), which
 * qmgr owns as it owns every notice: the agents' verdicts are gathered as
 * they come (verifyLines: one line per recipient, or per final address of
 * a local expansion), and once no recipient is left to try, one report
 * lists them all and the journal marks the undeliverable ones as listed,
 * so the message is done. A recipient whose verdict is not in memory (the
 * queue manager restarted since) is reported from the journal's record of
 * it. Postfix's bounce(8) sends the same "Mail Delivery Status Report".
 * Pure functions; never throw.
 */
import type { NoticeEntry, VerifyTrace } from '../../protocol/protocol.js';
import type { QueuedMessage, RecipientOutcome } from '../../store/store-types.js';
import { isLive, owesNotice } from './qmgr-entry.js';

/** The report's lines for one agent outcome (a verdict: delivered or bounced). */
export function verifyLines(o: RecipientOutcome, relay: string | undefined, trace: VerifyTrace[] | undefined): NoticeEntry[] {
  if (o.state !== 'delivered' && o.state !== 'bounced') return [];
  const base = (state: string, dsn: string, reason: string): NoticeEntry => {
    const n: NoticeEntry = { index: o.index, dsn, reason, action: state === 'delivered' ? 'deliverable' : 'undeliverable' };
    if (relay !== undefined) n.relay = relay;
    return n;
  };
  if (trace && trace.length > 0) {
    return trace.map((t) => ({ ...base(t.state, t.dsn, t.reason), finalAddress: t.address }));
  }
  const n = base(o.state, o.dsn, o.reason);
  if (o.reply !== undefined) n.reply = o.reply;
  if (o.command !== undefined) n.command = o.command;
  return [n];
}

/** The report due now, with the undeliverable recipients it accounts for; undefined while a recipient is still to be tried. */
export function verifyReport(m: QueuedMessage, lines: NoticeEntry[] | undefined): { recipients: NoticeEntry[]; noticed: number[] } | undefined {
  if (m.recipients.some(isLive)) return undefined;
  const recipients = [...(lines ?? [])];
  const covered = new Set(recipients.map((l) => l.index));
  const noticed: number[] = [];
  m.recipients.forEach((r, index) => {
    if (owesNotice(r)) noticed.push(index);
    if (covered.has(index) || (r.state !== 'delivered' && !owesNotice(r))) return;
    const n: NoticeEntry = { index, dsn: r.dsn ?? (r.state === 'delivered' ? '2.0.0' : '5.0.0'), reason: r.reason ?? '', action: r.state === 'delivered' ? 'deliverable' : 'undeliverable' };
    if (r.relay !== undefined) n.relay = r.relay;
    if (r.reply !== undefined) n.reply = r.reply;
    recipients.push(n);
  });
  recipients.sort((a, b) => a.index - b.index);
  return recipients.length > 0 || noticed.length > 0 ? { recipients, noticed } : undefined;
}
