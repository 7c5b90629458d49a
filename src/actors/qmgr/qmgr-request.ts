/**
 * qmgr-request: the two ends of one delivery: the DeliveryRequest built
 * from a queued message and a group of its recipients, and the agent's
 * DeliveryResult read back into the outcomes the journal records.
 * Pure functions. readResult never throws: a reply that is malformed, or
 * that leaves a recipient out, defers that recipient with Postfix's
 * "unknown mail transport error" (4.3.0).
 */
import type { DeliveryOutcome, DeliveryRequest, DeliveryResult, SuccessAction, VerifyTrace } from '../../protocol/protocol.js';
import type { QueuedMessage, RecipientOutcome } from '../../store/store-types.js';

/** The reason given when an agent reports nothing usable for a recipient. */
export const NO_STATUS = 'unknown mail transport error';

/** Builds the request for these recipients (indices) of a message. */
export function buildRequest(m: QueuedMessage, indices: number[], transport: string, nexthop: string, activeTime: number): DeliveryRequest {
  const req: DeliveryRequest = {
    queueId: m.queueId,
    sender: m.sender,
    arrivalTime: m.arrivalTime,
    location: m.location,
    headerLength: m.headerLength,
    size: m.size,
    transport,
    nexthop,
    recipients: indices.map((i) => {
      const r = m.recipients[i];
      const spec: DeliveryRequest['recipients'][number] = { address: r.address, index: i };
      if (r.orcpt !== undefined) spec.orcpt = r.orcpt;
      if (r.notify !== undefined) spec.notify = r.notify;
      if (r.origRcpt !== undefined) spec.origRcpt = r.origRcpt;
      return spec;
    }),
    activeTime,
  };
  if (m.envid !== undefined) req.envid = m.envid;
  if (m.ret !== undefined) req.ret = m.ret;
  if (m.smtputf8 !== undefined) req.smtputf8 = m.smtputf8;
  if (m.bodyType !== undefined) req.bodyType = m.bodyType;
  if (m.verify === true) req.verify = true;
  if (m.requiretls !== undefined) req.requiretls = m.requiretls;
  if (m.tlsRequiredNo !== undefined) req.tlsRequiredNo = m.tlsRequiredNo;
  return req;
}

/** How a delivered recipient's success notice differs from a final delivery's. */
export interface SuccessNote {
  action?: SuccessAction;
  notifyPassed?: true;
  /** A verify-only request's final addresses of a local expansion. */
  trace?: VerifyTrace[];
}

/** An agent's reply, read for the journal and for concurrency feedback. */
export interface ReadResult {
  outcomes: RecipientOutcome[];
  /** index -> relay, for notices. */
  relays: Map<number, string>;
  /** index -> what a success notice needs besides the outcome: the "relayed" action, or that the next hop took NOTIFY (no notice here). */
  successNotes: Map<number, SuccessNote>;
  /** Every recipient deferred: a site failure. Carries the first reason. */
  siteFailure: { reason: string; dsn: string } | undefined;
}

/**
 * Reads a reply for the recipients `indices`; deferred ones get
 * `nextAttempt`. Outcomes for recipients not asked about are ignored.
 */
export function readResult(res: DeliveryResult, indices: number[], nextAttempt: number): ReadResult {
  const byIndex = new Map<number, DeliveryOutcome>();
  if (res && Array.isArray(res.outcomes)) {
    for (const o of res.outcomes) if (o && typeof o.index === 'number') byIndex.set(o.index, o);
  }
  const outcomes: RecipientOutcome[] = [];
  const relays = new Map<number, string>();
  const successNotes = new Map<number, SuccessNote>();
  let deferred = 0;
  let first: { reason: string; dsn: string } | undefined;
  for (const i of indices) {
    const o = byIndex.get(i);
    if (!o || (o.state !== 'delivered' && o.state !== 'deferred' && o.state !== 'bounced')) {
      outcomes.push({ index: i, state: 'deferred', reason: NO_STATUS, dsn: '4.3.0', nextAttempt });
      deferred++;
      first ??= { reason: NO_STATUS, dsn: '4.3.0' };
      continue;
    }
    const reason = String(o.reason ?? '');
    const dsn = String(o.dsn ?? (o.state === 'delivered' ? '2.0.0' : o.state === 'bounced' ? '5.0.0' : '4.0.0'));
    const relay = typeof o.relay === 'string' ? o.relay : undefined;
    if (relay !== undefined) relays.set(i, relay);
    const out: RecipientOutcome = o.state === 'deferred' ? { index: i, state: 'deferred', reason, dsn, nextAttempt } : { index: i, state: o.state, reason, dsn };
    if (o.state === 'deferred') {
      deferred++;
      first ??= { reason, dsn };
    } else if (o.state === 'delivered' && (o.action === 'relayed' || o.action === 'expanded' || o.notifyPassed === true)) {
      const note: SuccessNote = {};
      if (o.action === 'relayed' || o.action === 'expanded') note.action = o.action;
      if (o.notifyPassed === true) note.notifyPassed = true;
      successNotes.set(i, note);
    }
    if (Array.isArray(o.trace) && o.trace.length > 0) successNotes.set(i, { ...successNotes.get(i), trace: o.trace });
    if ((o.state === 'bounced' || (o.state === 'deferred' && typeof o.reply === 'string')) && relay !== undefined) {
      // A notice made at the end of the pass (or after a crash) names the relay that refused,
      // or the server that answered a deferral (a delay notice's Remote-MTA).
      out.relay = relay;
    }
    // What the server said, as fields: the notices' Diagnostic-Code, never parsed back from the reason.
    if (typeof o.reply === 'string') out.reply = o.reply;
    if (typeof o.command === 'string') out.command = o.command;
    outcomes.push(out);
  }
  return { outcomes, relays, successNotes, siteFailure: deferred > 0 && deferred === indices.length ? first : undefined };
}
