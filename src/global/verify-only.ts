/**
 * verify-only: what a delivery agent's outcome means for a verify-only
 * request (sendmail -bv), as Postfix's delivery agents report one: the
 * outcome is a verdict, not a delivery. "delivered" is deliverable; a
 * bounce and a deferral are both undeliverable and final (Postfix's
 * defer_append in verify mode appends "undeliverable" to the report and
 * the recipient is done), so a deferral is reported as "bounced" with its
 * 4.x.y status kept. The log says status=deliverable or undeliverable.
 * Pure functions; never throw.
 */
import type { DeliveryOutcome } from '../protocol/protocol.js';

/** The log's status word for a verdict. */
export function verifyStatus(state: DeliveryOutcome['state']): 'deliverable' | 'undeliverable' {
  return state === 'delivered' ? 'deliverable' : 'undeliverable';
}

/** The outcome reported to qmgr for a verdict: a deferral is final. */
export function verifyOutcome(o: DeliveryOutcome): DeliveryOutcome {
  return o.state === 'deferred' ? { ...o, state: 'bounced' } : o;
}
