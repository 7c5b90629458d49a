/**
 * delivery-log: the per-recipient delivery log line, in Postfix's format
 * (log_adhoc): "to=<..>, orig_to=<..>, relay=.., conn_use=N, delay=..,
 * delays=a/b/c/d, dsn=X.Y.Z, status=sent (reason)". Pure formatting; never
 * throws (negative intervals from clock steps print as 0, as Postfix does).
 */
import type { DeliveryOutcome, DeliveryRequest } from '../protocol/protocol.js';
import type { Logger } from '../util/log.js';
import { count, label, observe, type MetricLabels } from '../util/metrics-counters.js';
import { verifyOutcome, verifyStatus } from './verify-only.js';

/** Time stamps (ms since the epoch) and facts of one recipient's delivery attempt. */
export interface DeliveryLogEntry {
  to: string;
  /** The recipient as received, before rewriting (Postfix's orig_rcpt); logged only when it differs from `to`. */
  origTo?: string;
  relay: string;
  /** Times this connection had been used before, plus one; logged when above 1. */
  connUse?: number;
  arrivalTime: number;
  activeTime: number;
  /** When the agent took the request (end of delay b). */
  connectStart: number;
  /** When the connection was set up (end of delay c); equal to connectStart when there is no network. */
  transmitStart: number;
  end: number;
  dsn: string;
  /** SOFTBOUNCE: a bounce that soft_bounce turned into a deferral (Postfix's word). */
  status: 'sent' | 'deferred' | 'bounced' | 'SOFTBOUNCE' | 'deliverable' | 'undeliverable';
  reason: string;
}

/** Postfix's status word for an outcome state. */
export function statusWord(state: DeliveryOutcome['state']): 'sent' | 'deferred' | 'bounced' {
  return state === 'delivered' ? 'sent' : state;
}

/**
 * Formats a time interval as Postfix's format_tv() with two significant
 * digits and a resolution of 10 ms: "0", "0.01", "0.12", "1.2", "12", "123".
 */
export function formatDelay(ms: number): string {
  const MILLION = 1_000_000;
  const maxDigits = 2;
  const sigDigits = 2;
  let totalUs = Math.round(Math.max(0, ms) * 1000);
  if (!Number.isFinite(totalUs)) totalUs = 0;
  let sec = Math.floor(totalUs / MILLION);
  let usec = totalUs - sec * MILLION;
  let ures = MILLION / 10 ** maxDigits;
  const wid = 10 ** sigDigits;
  // Coarser resolution for larger values: only sigDigits digits are meaningful.
  if (sec > 0) {
    let n = 1;
    while (sec >= n && n <= wid / 10) n *= 10;
    ures = (MILLION / wid) * n;
  } else {
    while (usec >= wid * ures) ures *= 10;
  }
  if (ures > 1) {
    usec += ures / 2;
    if (usec >= MILLION) {
      sec += 1;
      usec -= MILLION;
    }
  }
  let out = String(sec);
  if (usec >= ures) {
    out += '.';
    let rem = usec;
    for (let n = MILLION / 10; rem >= ures && n > 0; n = Math.floor(n / 10)) {
      out += '0123456789'[Math.floor(rem / n)];
      rem %= n;
    }
  }
  return out;
}

/** One delivery log line, without the "QUEUEID: " prefix (Logger.queue adds it). */
export function formatDelivery(e: DeliveryLogEntry): string {
  let line = `to=<${e.to}>`;
  if (e.origTo && e.origTo.toLowerCase() !== e.to.toLowerCase()) line += `, orig_to=<${e.origTo}>`;
  line += `, relay=${e.relay}`;
  if (e.connUse !== undefined && e.connUse > 1) line += `, conn_use=${e.connUse}`;
  line += `, delay=${formatDelay(e.end - e.arrivalTime)}`;
  line += `, delays=${formatDelay(e.activeTime - e.arrivalTime)}/${formatDelay(e.connectStart - e.activeTime)}`;
  line += `/${formatDelay(e.transmitStart - e.connectStart)}/${formatDelay(e.end - e.transmitStart)}`;
  line += `, dsn=${e.dsn}, status=${e.status} (${e.reason})`;
  return line;
}

/** The time fields of a request's log line. */
function lineTimes(req: DeliveryRequest, times: AttemptTimes, relay: string): Pick<DeliveryLogEntry, 'connUse' | 'arrivalTime' | 'activeTime' | 'connectStart' | 'transmitStart' | 'end'> {
  return {
    connUse: relay === 'none' ? undefined : times.connUse,
    arrivalTime: req.arrivalTime,
    activeTime: req.activeTime,
    connectStart: times.connectStart,
    transmitStart: times.transmitStart,
    end: times.end,
  };
}

/** The address inside an ORCPT value ("rfc822;user@example.com" -> "user@example.com"), if rfc822/utf-8. */
export function origRecipient(orcpt: string | undefined): string | undefined {
  if (!orcpt) return undefined;
  const semi = orcpt.indexOf(';');
  if (semi < 0) return orcpt;
  const type = orcpt.slice(0, semi).toLowerCase();
  if (type !== 'rfc822' && type !== 'utf-8') return undefined;
  return orcpt.slice(semi + 1);
}

const OUTCOME_COUNTERS: Record<string, string> = {
  delivered: 'recipients_delivered',
  deferred: 'recipients_deferred',
  bounced: 'recipients_bounced',
};

/** Times of one delivery attempt, shared by every recipient of the request. */
export interface AttemptTimes {
  connectStart: number;
  transmitStart: number;
  end: number;
  connUse?: number;
}

/** The four parts of delays=a/b/c/d, by the names the histogram's stage label gives them. */
const STAGES = ['before_qmgr', 'in_qmgr', 'connection_setup', 'transmission'] as const;
const stageLabels = new Map<string, MetricLabels>();

function stageLabel(transport: string, stage: string): MetricLabels {
  const key = `${transport}\u0000${stage}`;
  let l = stageLabels.get(key);
  if (!l) {
    l = Object.freeze({ transport, stage });
    stageLabels.set(key, l);
  }
  return l;
}

/** delivery_delay_seconds: the a/b/c/d split of one recipient's delivery line, one observation per stage. */
export function observeStages(transport: string, activeTime: number, arrivalTime: number, times: AttemptTimes): void {
  const parts = [activeTime - arrivalTime, times.connectStart - activeTime, times.transmitStart - times.connectStart, times.end - times.transmitStart];
  for (let i = 0; i < STAGES.length; i++) observe('delivery_delay_seconds', Math.max(0, parts[i]) / 1000, stageLabel(transport, STAGES[i]));
}

/**
 * Postfix's soft_bounce for a delivery agent's outcome: a bounce becomes a
 * deferral with the 4.x.y twin of its status, so the message stays queued
 * and is tried again (until maximal_queue_lifetime, as in Postfix).
 */
export function softBounceOutcome(o: DeliveryOutcome): DeliveryOutcome {
  if (o.state !== 'bounced') return o;
  return { ...o, state: 'deferred', dsn: o.dsn.replace(/^5\./, '4.') };
}

/**
 * Logs one line per outcome of a request with `log.queue`, as every delivery
 * agent does (Postfix's bounce_append / defer_append), counts each outcome
 * (recipients_delivered/deferred/bounced by transport;
 * delivery_latency_seconds from arrival for each delivered one), and
 * returns the outcomes to report to qmgr. With `softBounce` (the agent's
 * soft_bounce) every bounce is reported and counted as a deferral and
 * logged with status=SOFTBOUNCE, as Postfix logs it. A verify-only request
 * (sendmail -bv) delivered nothing: each outcome is logged as a verdict,
 * status=deliverable or undeliverable, counted as no delivery, and a
 * deferral is reported final (verify-only.ts); soft_bounce does not apply.
 */
export function logOutcomes(log: Logger, req: DeliveryRequest, outcomes: DeliveryOutcome[], times: AttemptTimes, softBounce = false): DeliveryOutcome[] {
  const byIndex = new Map(req.recipients.map((r) => [r.index, r]));
  const labels = label('transport', req.transport);
  const verify = req.verify === true;
  const reported = verify ? outcomes.map(verifyOutcome) : softBounce ? outcomes.map(softBounceOutcome) : outcomes;
  for (let k = 0; k < reported.length; k++) {
    const o = reported[k];
    const rcpt = byIndex.get(o.index);
    if (!rcpt) continue;
    if (verify) {
      log.queue(req.queueId, formatDelivery({ ...lineTimes(req, times, o.relay), to: rcpt.address, origTo: rcpt.origRcpt, relay: o.relay, dsn: o.dsn, status: verifyStatus(o.state), reason: o.reason }));
      continue;
    }
    count(OUTCOME_COUNTERS[o.state] ?? 'recipients_deferred', labels);
    if (o.state === 'delivered') observe('delivery_latency_seconds', Math.max(0, times.end - req.arrivalTime) / 1000, labels);
    observeStages(req.transport, req.activeTime, req.arrivalTime, times);
    log.queue(
      req.queueId,
      formatDelivery({
        to: rcpt.address,
        origTo: rcpt.origRcpt,
        relay: o.relay,
        connUse: o.relay === 'none' ? undefined : times.connUse,
        arrivalTime: req.arrivalTime,
        activeTime: req.activeTime,
        connectStart: times.connectStart,
        transmitStart: times.transmitStart,
        end: times.end,
        dsn: o.dsn,
        status: o !== outcomes[k] ? 'SOFTBOUNCE' : statusWord(o.state),
        reason: o.reason,
      }),
    );
  }
  return reported;
}
