/**
 * qmgr-entry: the scheduler's in-memory records, shared by its parts: a
 * message in the queue manager (Entry), one pass of it through the active
 * queue (Pass), a delivery request waiting at a destination (Job), the
 * recipient as a notice names it, and the small helpers over them.
 * Types and pure functions; nothing here throws.
 */
import type { NoticeEntry, ResolvedAddress } from '../../protocol/protocol.js';
import type { QueuedMessage, QueuedRecipient } from '../../store/store-types.js';
import type { Destination } from './qmgr-feedback.js';

/** A recipient as a notice names it (protocol's NoticeEntry). */
export type NoticeRecipient = NoticeEntry;

export type EntryState = 'incoming' | 'active' | 'deferred' | 'hold' | 'gone';

/** One pass of a message through the active queue. */
export interface Pass {
  /** Jobs, records and resolutions not yet done; the pass ends at 0. */
  pending: number;
  /** Delivered recipients whose NOTIFY asks for a success notice. */
  delivered: NoticeRecipient[];
}

export interface Entry {
  msg: QueuedMessage;
  state: EntryState;
  deleted: boolean;
  /** Deferred recipients are due now (flush / requeue). */
  forced: boolean;
  resolved: Map<number, ResolvedAddress>;
  activeTime: number;
  pass: Pass | undefined;
  /** Jobs queued at a destination and not yet dispatched. */
  jobs: Set<Job>;
  /** The journal said nothing is left to do. */
  finished: boolean;
  /** When a failure notice that bounce could not make is tried again (undefined: with the next pass). */
  noticeRetryAt?: number;
  /** A verify-only message (sendmail -bv): the verdicts so far, for its one report. */
  verifyLines?: NoticeEntry[];
}

export interface Job {
  entry: Entry;
  dest: Destination<Job>;
  indices: number[];
  cancelled: boolean;
  /** The lane (qmgr-lanes) its delivery holds, once dispatched. */
  lane?: number;
}

export const AGENT_CRASHED = 'delivery agent crashed/unavailable';
export const RESOLVER_FAILED = 'address resolver failure';
/** Postfix's reason when no service delivers a transport. */
export const TRANSPORT_UNAVAILABLE = 'mail transport unavailable';

export function copyMessage(m: QueuedMessage): QueuedMessage {
  return { ...m, recipients: m.recipients.map((r) => ({ ...r })) };
}

export function isLive(r: QueuedRecipient): boolean {
  return r.state === 'ready' || r.state === 'deferred';
}

/** A failed recipient that no failure notice has listed yet: its message is not done. */
export function owesNotice(r: QueuedRecipient): boolean {
  return (r.state === 'bounced' || r.state === 'expired') && r.failureNotified !== true;
}

/** Something is left to do for the recipient: a delivery or a failure notice. */
export function hasWork(r: QueuedRecipient): boolean {
  return isLive(r) || owesNotice(r);
}

export function bareHost(nexthop: string): string {
  let h = nexthop.toLowerCase();
  const colon = h.lastIndexOf(':');
  if (colon > 0 && /^\d+$/.test(h.slice(colon + 1))) h = h.slice(0, colon);
  if (h.startsWith('[') && h.endsWith(']')) h = h.slice(1, -1);
  return h;
}
