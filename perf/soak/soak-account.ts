/**
 * soak-account: compares what the daemon accepted (250 after the final
 * dot, with the recipients it took) with what reached the sink, recipient
 * by recipient: a copy delivered, or named in a failure notice to the
 * sender, as each recipient's fate says it must. Pure; never throws.
 *
 *   lost        accepted, but neither delivered nor in a notice;
 *   misrouted   ended the other way than its fate (a bounce for a
 *               recipient that had to be delivered, or the reverse);
 *   duplicated  delivered (or noticed) more than once, as a crash between
 *               delivery and its journal record may cause;
 *   unexpected  arrived for a message the client never had a 250 for:
 *               `afterFailure` when the client saw the connection fail
 *               after the final dot (the 250 may have been lost on the
 *               way), `afterRefusal` when the client got a 4xx/5xx there
 *               (the daemon said no but delivered: a bug).
 */
import type { Tally } from './soak-sink.js';
import type { Outcome } from './soak-fates.js';

/** A message the daemon took: its recipients (lower case) and where each must end. */
export interface AcceptedMessage {
  token: string;
  recipients: Map<string, Outcome>;
}

export interface SoakAccount {
  /** Messages and recipients accepted. */
  messages: number;
  recipients: number;
  /** Recipients delivered / bounced as their fate said. */
  delivered: number;
  bounced: number;
  /** Messages all of whose recipients are accounted for. */
  messagesComplete: number;
  lost: Array<{ token: string; recipient: string }>;
  misrouted: Array<{ token: string; recipient: string; expected: Outcome }>;
  duplicated: Array<{ token: string; recipient: string; copies: number }>;
  unexpectedAfterFailure: number;
  unexpectedAfterRefusal: string[];
}

/**
 * `accepted`: every message with a 250; `failedAfterDot` and
 * `refusedAtDot`: tokens whose final dot got no reply, or a refusal.
 */
export function accountSoak(
  accepted: Iterable<AcceptedMessage>,
  delivered: Tally,
  bounced: Tally,
  failedAfterDot: ReadonlySet<string>,
  refusedAtDot: ReadonlySet<string>,
): SoakAccount {
  const a: SoakAccount = {
    messages: 0, recipients: 0, delivered: 0, bounced: 0, messagesComplete: 0,
    lost: [], misrouted: [], duplicated: [], unexpectedAfterFailure: 0, unexpectedAfterRefusal: [],
  };
  const known = new Set<string>();
  for (const m of accepted) {
    a.messages++;
    known.add(m.token);
    let complete = true;
    for (const [rcpt, expected] of m.recipients) {
      a.recipients++;
      const d = delivered.get(m.token)?.get(rcpt) ?? 0;
      const b = bounced.get(m.token)?.get(rcpt) ?? 0;
      if (d === 0 && b === 0) {
        a.lost.push({ token: m.token, recipient: rcpt });
        complete = false;
        continue;
      }
      const got: Outcome = d > 0 ? 'delivered' : 'bounced';
      if (got !== expected) a.misrouted.push({ token: m.token, recipient: rcpt, expected });
      else if (got === 'delivered') a.delivered++;
      else a.bounced++;
      if (d + b > 1) a.duplicated.push({ token: m.token, recipient: rcpt, copies: d + b });
    }
    if (complete) a.messagesComplete++;
  }
  for (const token of new Set([...delivered.keys(), ...bounced.keys()])) {
    if (known.has(token)) continue;
    if (refusedAtDot.has(token) && !failedAfterDot.has(token)) a.unexpectedAfterRefusal.push(token);
    else a.unexpectedAfterFailure++;
  }
  return a;
}

/** True once every accepted recipient has reached the sink one way or the other. */
export function allAccounted(accepted: Iterable<AcceptedMessage>, delivered: Tally, bounced: Tally): boolean {
  for (const m of accepted) {
    for (const rcpt of m.recipients.keys()) {
      if (!(delivered.get(m.token)?.get(rcpt)) && !(bounced.get(m.token)?.get(rcpt))) return false;
    }
  }
  return true;
}
