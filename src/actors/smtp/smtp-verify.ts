/**
 * smtp-verify: a verify-only delivery (sendmail -bv) on an open session, as
 * Postfix's smtp(8) makes it: MAIL FROM and RCPT TO with the DSN parameters
 * a delivery would send, no DATA; each recipient's RCPT reply decides it
 * ("deliverable" on 2xx, with that reply, else the refusal as a delivery
 * would report it), then RSET keeps the connection for the next request
 * (or it is closed). The outcomes are the ordinary ones; delivery-log and
 * qmgr read them as verdicts because the request is marked verify. Never
 * throws.
 */
import { failureState } from '../../global/dsn-status.js';
import type { DeliveryOutcome, DeliveryRequest } from '../../protocol/protocol.js';
import { parseServerReply } from '../../util/smtp-reply.js';
import { saidOutcome } from './smtp-reply.js';
import type { SmtpSession } from './smtp-session.js';
import { passedOrcpt, type PendingRecipient, type TransactionResult } from './smtp-transaction.js';

/** Tests `recipients` on `session` without sending the message. */
export async function runVerifyTransaction(session: SmtpSession, req: DeliveryRequest, recipients: PendingRecipient[]): Promise<TransactionResult> {
  const { client, peer, relay } = session;
  const params = {
    ret: req.ret,
    envid: req.envid,
    smtputf8: !!req.smtputf8,
    recipients: recipients.map((r) => ({ notify: r.notify, orcpt: passedOrcpt(r) })),
  };
  const result = await client.envelopeOnly(req.sender, recipients.map((r) => r.address), params);
  const refused = (r: PendingRecipient, raw: string, command: string): DeliveryOutcome => {
    const reply = parseServerReply(raw);
    const said = saidOutcome(peer, reply, command);
    return { index: r.index, state: failureState(reply.dsn), dsn: reply.dsn, reason: said.reason, relay, reply: said.reply, command };
  };
  if (result.mailReply !== undefined) {
    const mailReply = result.mailReply;
    return { outcomes: recipients.map((r) => refused(r, mailReply, 'MAIL FROM')), noReply: false, reusable: !client.dead, needsReset: true };
  }
  const outcomes: DeliveryOutcome[] = [];
  recipients.forEach((r, k) => {
    const raw = result.replies[k];
    if (raw === undefined) {
      const stage = k === 0 && result.replies.length === 0 ? 'sending MAIL FROM' : 'sending RCPT TO';
      const why = result.error?.code === 'ETIMEDOUT' ? `conversation with ${peer} timed out while ${stage}` : `lost connection with ${peer} while ${stage}`;
      outcomes.push({ index: r.index, state: 'deferred', dsn: '4.4.2', reason: why, relay });
      return;
    }
    if (raw[0] !== '2') {
      outcomes.push(refused(r, raw, 'RCPT TO'));
      return;
    }
    const reply = parseServerReply(raw);
    outcomes.push({ index: r.index, state: 'delivered', dsn: reply.dsn, reason: reply.text, relay, reply: reply.text, command: 'RCPT TO' });
  });
  if (result.error) client.close();
  return { outcomes, noReply: !!result.error && result.replies.length === 0, reusable: !result.error && !client.dead, needsReset: true };
}
