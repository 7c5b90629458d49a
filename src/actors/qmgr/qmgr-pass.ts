/**
 * qmgr-pass: the end of a message's pass through the active queue, which
 * qmgr owns because it schedules the pass (Postfix's qmgr flushes the
 * bounce log at the same point): applying recorded outcomes in memory,
 * expiry, the failure notice for every recipient that failed and no notice
 * listed yet, success and delay notices, then removal or a return to the
 * deferred queue. The journal only stores: a failed recipient is recorded
 * as soon as its agent reports it, and marked as listed once bounce has
 * queued its notice, and a message is done only when every failed
 * recipient is listed. A crash in between gives a second notice at worst,
 * never a lost one. The scheduler hands in the few operations this needs
 * as a PassHost, so its state stays its own.
 *
 * Errors: nothing reaches the caller. A journal that refuses a record is
 * logged and the recipients stay as they were; a notice that bounce refuses
 * is logged and not marked as sent: a failure notice is tried again after
 * minimal_backoff_time, a delay notice with the next pass.
 */
import type { QueuedMessage, RecipientOutcome } from '../../store/store-types.js';
import type { Logger } from '../../util/log.js';
import { hasWork, type Entry, type NoticeRecipient, type Pass } from './qmgr-entry.js';
import { failureNotice } from './qmgr-notice.js';
import type { QmgrParams } from './qmgr-params.js';
import { isExpired, notifyAllows } from './qmgr-policy.js';
import type { SuccessNote } from './qmgr-request.js';
import type { NoticeKind } from '../../protocol/protocol.js';
import { verifyLines, verifyReport } from './qmgr-verify.js';

/** What the end of a pass needs from the scheduler. */
export interface PassHost {
  readonly params: QmgrParams;
  readonly log: Logger;
  now(): number;
  /** The journal; resolves once the outcomes (and the failed recipients a notice listed, `noticed`) are durable. */
  recordOutcomes(queueId: string, outcomes: RecipientOutcome[], noticed?: number[]): Promise<{ finished: boolean }>;
  /** bounce: queue a failure, delay or success notice. */
  notify(req: { message: QueuedMessage; kind: NoticeKind; recipients: NoticeRecipient[] }): Promise<unknown>;
  /** Counts a record or notice under way, which drain() waits for. */
  workStarted(): void;
  workDone(): void;
  leaveActive(e: Entry): void;
  /** Forgets a message that has nothing left to deliver. */
  remove(e: Entry): void;
  /** Puts a message that is not active where it belongs: hold, incoming or deferred. */
  place(e: Entry): void;
  checkIdle(): void;
  /** Lets waiting messages into the active queue the pass has left. */
  admit(): void;
}

/**
 * Applies recorded outcomes in memory, as the journal applied them, and
 * collects the deliveries the pass must notify. `noticed`: failed
 * recipients a failure notice listed.
 */
export function applyOutcomes(
  e: Entry,
  outcomes: RecipientOutcome[],
  relays: Map<number, string> | undefined,
  attempted: boolean,
  noticed?: number[],
  successNotes?: Map<number, SuccessNote>,
): void {
  for (const i of noticed ?? []) {
    const r = e.msg.recipients[i];
    if (r) r.failureNotified = true;
  }
  for (const o of outcomes) {
    const r = e.msg.recipients[o.index];
    if (!r) continue;
    r.state = o.state;
    r.reason = o.reason;
    r.dsn = o.dsn;
    // The relay and reply of the last outcome, for the Remote-MTA and Diagnostic-Code of a later failure notice.
    if (o.relay !== undefined) r.relay = o.relay;
    else delete r.relay;
    if (o.reply !== undefined) r.reply = o.reply;
    else delete r.reply;
    if (o.command !== undefined) r.command = o.command;
    else delete r.command;
    if (o.nextAttempt !== undefined) r.nextAttempt = o.nextAttempt;
    if (o.delayNotified) r.delayNotified = true;
    if (attempted) r.attempts++;
    const relay = relays?.get(o.index);
    const note = successNotes?.get(o.index);
    if (e.msg.verify) {
      // sendmail -bv: the agents' verdicts, kept for the one report; no other notice.
      if (attempted) (e.verifyLines ??= []).push(...verifyLines(o, relay, note?.trace));
      continue;
    }
    if (!e.pass) continue;
    // A next hop that took NOTIFY reports success itself: a notice here would be the sender's second.
    if (o.state === 'delivered' && notifyAllows(r.notify, 'success') && note?.notifyPassed !== true) {
      const n: NoticeRecipient = { index: o.index, dsn: o.dsn, reason: o.reason };
      if (note?.action !== undefined) n.action = note.action;
      if (relay !== undefined) n.relay = relay;
      if (o.reply !== undefined) n.reply = o.reply;
      if (o.command !== undefined) n.command = o.command;
      e.pass.delivered.push(n);
    }
  }
}

/** The end of a pass: expiry, notices, then removal or back to the deferred queue. */
export async function finishPass(host: PassHost, e: Entry): Promise<void> {
  const pass = e.pass;
  e.pass = undefined;
  if (!pass || e.deleted) return;
  host.workStarted();
  try {
    await passNotices(host, e, pass);
  } catch (err) {
    host.log.warning(`${e.msg.queueId}: ${(err as Error)?.message ?? String(err)}`);
  } finally {
    host.workDone();
  }
  if (!e.deleted) {
    host.leaveActive(e);
    if (!e.msg.recipients.some(hasWork)) {
      host.remove(e);
      if (e.finished) host.log.queue(e.msg.queueId, 'removed');
      else host.log.warning(`${e.msg.queueId}: all recipients done but the journal keeps the message`);
    } else {
      host.place(e);
    }
  }
  host.checkIdle();
  host.admit();
}

async function passNotices(host: PassHost, e: Entry, pass: Pass): Promise<void> {
  const m = e.msg;
  const now = host.now();
  if (!m.hold && isExpired(host.params, m, now)) {
    const expired: RecipientOutcome[] = [];
    m.recipients.forEach((r, i) => {
      if (r.state !== 'deferred') return;
      // The last attempt's server and reply stay, for the failure notice's Remote-MTA and Diagnostic-Code.
      const o: RecipientOutcome = { index: i, state: 'expired', reason: r.reason ?? 'message too old', dsn: r.dsn ?? '4.4.7' };
      if (r.relay !== undefined) o.relay = r.relay;
      if (r.reply !== undefined) o.reply = r.reply;
      if (r.command !== undefined) o.command = r.command;
      expired.push(o);
    });
    if (expired.length > 0 && (await record(host, e, expired))) {
      host.log.queue(m.queueId, `from=<${m.sender}>, status=expired, returned to sender`);
    }
  }
  if (m.verify) return verifyNotice(host, e);
  await failureNotices(host, e);
  if (pass.delivered.length > 0) await notify(host, e, 'success', pass.delivered);
  const warnAfter = host.params.delayWarningMs;
  if (warnAfter > 0 && !m.hold && now - m.arrivalTime >= warnAfter) {
    const delayed: NoticeRecipient[] = [];
    m.recipients.forEach((r, i) => {
      if (r.state !== 'deferred' || r.delayNotified || !notifyAllows(r.notify, 'delay')) return;
      // The server that gave the deferral, when one did: the notice's Remote-MTA and Diagnostic-Code.
      const d: NoticeRecipient = { index: i, dsn: r.dsn ?? '4.0.0', reason: r.reason ?? '' };
      if (r.relay !== undefined) d.relay = r.relay;
      if (r.reply !== undefined) d.reply = r.reply;
      if (r.command !== undefined) d.command = r.command;
      delayed.push(d);
    });
    if (delayed.length > 0 && (await notify(host, e, 'delay', delayed))) {
      await record(
        host,
        e,
        delayed.map((d) => {
          const o: RecipientOutcome = { index: d.index, state: 'deferred', reason: d.reason, dsn: d.dsn, nextAttempt: m.recipients[d.index].nextAttempt, delayNotified: true };
          if (d.relay !== undefined) o.relay = d.relay;
          if (d.reply !== undefined) o.reply = d.reply;
          if (d.command !== undefined) o.command = d.command;
          return o;
        }),
      );
    }
  }
}

/**
 * One notice for every failed recipient no notice listed yet (this pass's
 * failures, and those of a pass whose notice bounce could not make), then
 * the journal marks them; a refused notice is tried again after the backoff.
 */
async function failureNotices(host: PassHost, e: Entry): Promise<void> {
  const due = failureNotice(e.msg);
  if (!due) return;
  if (due.recipients.length > 0 && !(await notify(host, e, 'failure', due.recipients))) {
    e.noticeRetryAt = host.now() + host.params.minimalBackoffMs;
    return;
  }
  e.noticeRetryAt = undefined;
  await record(host, e, [], due.noticed);
}

/**
 * sendmail -bv: the one report, once no recipient is left to try; then the
 * undeliverable recipients are marked listed, which finishes the message.
 * A report bounce refuses is tried again after the backoff.
 */
async function verifyNotice(host: PassHost, e: Entry): Promise<void> {
  const due = verifyReport(e.msg, e.verifyLines);
  if (!due) return;
  if (due.recipients.length > 0 && !(await notify(host, e, 'verify', due.recipients))) {
    e.noticeRetryAt = host.now() + host.params.minimalBackoffMs;
    return;
  }
  e.noticeRetryAt = undefined;
  e.verifyLines = undefined;
  if (due.noticed.length > 0) await record(host, e, [], due.noticed);
}

/** Records outcomes and applies them; false when the journal refused. */
async function record(host: PassHost, e: Entry, outcomes: RecipientOutcome[], noticed?: number[]): Promise<boolean> {
  try {
    const r = await host.recordOutcomes(e.msg.queueId, outcomes, noticed);
    if (!e.deleted) applyOutcomes(e, outcomes, undefined, false, noticed);
    if (r?.finished) e.finished = true;
    return true;
  } catch (err) {
    host.log.warning(`${e.msg.queueId}: cannot record delivery status: ${(err as Error)?.message ?? String(err)}`);
    return false;
  }
}

async function notify(host: PassHost, e: Entry, kind: NoticeKind, recipients: NoticeRecipient[]): Promise<boolean> {
  if (e.deleted) return false;
  try {
    await host.notify({ message: e.msg, kind, recipients });
    return true;
  } catch (err) {
    host.log.warning(`${e.msg.queueId}: ${kind} notice not sent: ${(err as Error)?.message ?? String(err)}`);
    return false;
  }
}
