/**
 * protocol: the typed messages every actor pair exchanges, and nothing else.
 * A protocol maps each of its message kinds to a Message, a request body
 * and a reply body (a one-way cast has reply `void`), and has no index
 * signature, so a kind it does not list is a compile error. `Protocols` maps each role to
 * the protocol it serves (from the role catalogue's `serves`); the runtime
 * types ctx.peers(role), call(), cast(), an actor's handlers and the
 * supervisor's callActor() against it, so a mismatch between two actors is a
 * compile error on both sides, not a lost message.
 */
import type { MetricsSnapshot } from '../util/metrics-counters.js';
import type { ProtocolName, RoleName, ROLE_CATALOGUE } from './role-catalogue.js';
import type {
  AdminAction,
  BodyLocation,
  NewMessage,
  QueueCounts,
  QueuedMessage,
  QueueName,
  RecipientOutcome,
  RecipientSpec,
} from '../store/store-types.js';

/** One message kind: its request body and its reply body (void for a cast). */
export interface Message {
  req: unknown;
  rep: unknown;
}

/** The request body of kind K of protocol P. */
export type Req<P, K extends keyof P> = P[K] extends { req: infer Q } ? Q : never;

/** The reply body of kind K of protocol P. */
export type Rep<P, K extends keyof P> = P[K] extends { rep: infer A } ? A : never;

/** The journal actor: the one writer of the queue store, and its index. */
export interface JournalProtocol {
  /** Make a message durable; replies once it is on disk (group commit). */
  append: { req: { message: NewMessage }; rep: { queueId: string; location: BodyLocation } };
  /**
   * Record per-recipient outcomes and, in `noticed`, the failed recipients a
   * failure notice has listed. The message is finished when no recipient is
   * left to try and every failed one is listed.
   */
  outcome: { req: { queueId: string; outcomes: RecipientOutcome[]; noticed?: number[] }; rep: { finished: boolean } };
  /** hold / release / delete / requeue one message. */
  admin: { req: { action: AdminAction; queueId: string }; rep: { found: boolean } };
  /** A page of live messages in queue-id order, after `after`. */
  list: { req: { after?: string; limit: number }; rep: { messages: QueuedMessage[]; next?: string } };
  get: { req: { queueId: string }; rep: { message?: QueuedMessage } };
  counts: { req: Record<string, never>; rep: QueueCounts };
}

/** What qmgr hands a delivery agent: one message, recipients for one (transport, nexthop). */
export interface DeliveryRequest {
  queueId: string;
  sender: string;
  arrivalTime: number;
  envid?: string;
  ret?: 'FULL' | 'HDRS';
  smtputf8?: boolean;
  bodyType?: '7BIT' | '8BITMIME' | 'BINARYMIME';
  /** RFC 8689 REQUIRETLS, and a "TLS-Required: No" header (QueuedMessage). */
  requiretls?: boolean;
  tlsRequiredNo?: boolean;
  location: BodyLocation;
  headerLength: number;
  size: number;
  transport: string;
  nexthop: string;
  recipients: Array<RecipientSpec & { index: number }>;
  /** When qmgr took the message into the active queue (for delays=a/b/c/d). */
  activeTime: number;
  /**
   * sendmail -bv: deliver nothing; test each recipient as far as delivery
   * would go and report "delivered" for deliverable, "bounced" for
   * undeliverable (a deferral is a verdict too), logged status=deliverable
   * or undeliverable.
   */
  verify?: boolean;
}

export interface DeliveryOutcome {
  index: number;
  state: 'delivered' | 'deferred' | 'bounced';
  dsn: string;
  /** The remote reply or local reason, as logged in "status=... (reason)"; for people, never parsed. */
  reason: string;
  /** "host[ip]:port", "virtual", "none". */
  relay: string;
  /** The remote server's reply that gave the outcome, as one line with its codes ("550 5.1.1 ..."): the DSN's Diagnostic-Code. */
  reply?: string;
  /** The SMTP command that reply answered ("RCPT TO", "end of DATA"); absent for the greeting. */
  command?: string;
  /**
   * The DSN action of a delivered outcome (RFC 3464): "relayed" when the
   * mail went on to an MTA, "expanded" when a local alias or .forward
   * expanded the recipient (RFC 3461 6.2), absent for final delivery
   * ("delivered").
   */
  action?: SuccessAction;
  /**
   * The next hop announced DSN and took the recipient's NOTIFY: it, not
   * this MTA, sends the success notice (Postfix's smtp clears SUCCESS then).
   */
  notifyPassed?: boolean;
  /**
   * A verify-only request (sendmail -bv) whose recipient a local alias or
   * .forward expanded: the verdict on each final address, for the report.
   */
  trace?: VerifyTrace[];
}

/** One final address of a local expansion and its verdict. */
export interface VerifyTrace {
  address: string;
  /** delivered: deliverable; bounced: undeliverable. */
  state: 'delivered' | 'bounced';
  dsn: string;
  reason: string;
}

/** A success notice's action when it is not "delivered" (RFC 3464 2.3.3). */
export type SuccessAction = 'relayed' | 'expanded';

export interface DeliveryResult {
  outcomes: DeliveryOutcome[];
  /** Seconds spent in connection setup and in transmission (delays c and d). */
  connectSeconds: number;
  transmitSeconds: number;
}

/** smtp, virtual, discard and error agents all speak this. */
export interface DeliveryProtocol {
  deliver: { req: DeliveryRequest; rep: DeliveryResult };
}

export interface ResolvedAddress {
  /** Address class: local, virtual_alias, virtual_mailbox, relay, default. */
  addressClass: 'local' | 'virtual_alias' | 'virtual_mailbox' | 'relay' | 'default';
  transport: string;
  nexthop: string;
  recipient: string;
}

export interface TrivialRewriteProtocol {
  /** canonical_maps (sender or recipient) then, for recipients, virtual_alias_maps expansion. */
  rewrite: { req: { address: string; role: 'sender' | 'recipient' }; rep: { addresses: string[]; error?: string } };
  /** A header address: completed for its context, then canonical_maps and masquerading per their classes. */
  rewriteHeader: { req: { address: string; role: 'sender' | 'recipient'; context: 'local' | 'remote' }; rep: { address: string; error?: string } };
  resolve: { req: { address: string }; rep: ResolvedAddress };
}

export interface QmgrProtocol {
  /** The journal made a new message durable. Cast. */
  arrived: { req: { message: QueuedMessage }; rep: void };
  /** Journal compaction copied these messages forward: their content is read from the new locations from now on. Cast. */
  relocated: { req: { moves: Array<{ queueId: string; location: BodyLocation }> }; rep: void };
  /** `postrider flush` (all deferred) or `postqueue -s site` (one destination). */
  flush: { req: { site?: string }; rep: { scheduled: number } };
  /**
   * postsuper's -d/-h/-H/-r: the listed ids, or ALL (limited to `queues`
   * when given). hold takes only mail not on hold, release only held mail;
   * the reply names the messages changed.
   */
  admin: { req: { action: AdminAction; queueIds: string[] | 'ALL'; queues?: QueueName[] }; rep: { affected: number; queueIds: string[] } };
  load: { req: Record<string, never>; rep: { active: number; destinations: Record<string, number> } };
  /** Every (transport, nexthop) this qmgr has scheduled to: its window, work and state (the HTTP API's destinations). */
  destinations: { req: Record<string, never>; rep: { destinations: DestinationView[] } };
}

/** One (transport, nexthop) queue of a qmgr, as the HTTP API shows it. */
export interface DestinationView {
  transport: string;
  nexthop: string;
  /** Deliveries in flight. */
  active: number;
  /** The concurrency window now, and the destination's limit. */
  window: number;
  limit: number;
  /** Delivery requests waiting for a slot. */
  queued: number;
  dead: boolean;
  /** The last site failure (a refused or dropped connection, a 4xx to every recipient), with its time in ms. */
  lastError?: { reason: string; dsn: string; at: number };
}

/** The notices bounce writes; "verify" is sendmail -bv's Mail Delivery Status Report. */
export type NoticeKind = 'failure' | 'delay' | 'success' | 'verify';

/** A verify report's action: the verdict on the address (Postfix's words). */
export type NoticeAction = SuccessAction | 'deliverable' | 'undeliverable';

/** One recipient line of a notice. */
export interface NoticeEntry {
  /** The recipient's index in the message. */
  index: number;
  dsn: string;
  reason: string;
  relay?: string;
  reply?: string;
  command?: string;
  /** The action when it is not the kind's own ("relayed", "expanded"; a verify report's verdict). */
  action?: NoticeAction;
  /** The address reported when it is not the recipient's own: a final address of its local expansion. */
  finalAddress?: string;
}

export interface BounceProtocol {
  /**
   * Write a DSN for these recipients of a message and queue it; replies with
   * its queue id (none for a null sender). `content`: the message itself when
   * it is not in the queue (local mail that cleanup refused, which Postfix
   * returns to its sender).
   */
  notify: {
    req: {
      message: QueuedMessage;
      content?: Uint8Array;
      kind: NoticeKind;
      recipients: NoticeEntry[];
    };
    rep: { queueId?: string };
  };
}

/**
 * The anvil actor: the client counters every smtpd thread shares (Postfix's
 * anvil(8)). Each reply is the count after the event; the caller compares
 * it with its own service's limit.
 */
export interface AnvilProtocol {
  /** A client connected: its open connections and its connection rate, this one included; `id` is the caller's name for this connection. */
  connect: { req: { service: string; addr: string; id: number }; rep: { count: number; rate: number } };
  /** The connection the caller named `id` went away; one this anvil never counted (it was restarted since) changes nothing. Cast. */
  disconnect: { req: { service: string; addr: string; id: number }; rep: void };
  /** A MAIL FROM, RCPT TO or AUTH: the client's rate of it, this one included. */
  event: { req: { service: string; addr: string; what: 'mail' | 'rcpt' | 'auth' }; rep: number };
}

/** What every actor answers besides its role's protocol, for the supervisor (logrotate, metrics). */
export interface BuiltinProtocol {
  /** Reopen maillog_file (after rotation). */
  reopenLog: { req: Record<string, never>; rep: void };
  /** This thread's counters and histograms. */
  metrics: { req: Record<string, never>; rep: MetricsSnapshot };
}

/** The protocols by the name the role catalogue gives them. */
export interface ProtocolsByName {
  journal: JournalProtocol;
  qmgr: QmgrProtocol;
  'trivial-rewrite': TrivialRewriteProtocol;
  bounce: BounceProtocol;
  delivery: DeliveryProtocol;
  anvil: AnvilProtocol;
}

/** The protocol of a role that serves none: no kind can be called. */
export type NoProtocol = Record<never, Message>;

type Catalogue = typeof ROLE_CATALOGUE;

/** The protocol a catalogue role serves. */
type ServedBy<R extends RoleName> = Catalogue[R]['serves'] extends infer N ? (N extends ProtocolName ? ProtocolsByName[N] : NoProtocol) : never;

/** Every catalogue role and the protocol it serves. */
type CatalogueProtocols = { [R in RoleName]: ServedBy<R> };

/**
 * Role -> the protocol it serves. An interface so that test and benchmark
 * roles can add themselves by declaration merging
 * (`declare module '.../protocol.js' { interface Protocols { echo: EchoProtocol } }`);
 * there is no index signature, so a role nobody declared is a compile error.
 */
// eslint-disable-next-line @typescript-eslint/no-empty-object-type -- filled by the catalogue and by declaration merging
export interface Protocols extends CatalogueProtocols {}

/** A role a call can name: a catalogue role or one declared by merging. */
export type ActorRole = keyof Protocols;

/** What the supervisor may call on a role: its protocol and the builtins. */
export type ActorProtocol<R extends ActorRole> = Protocols[R] & BuiltinProtocol;

/**
 * The roles an actor of role R may call or cast to: those its catalogue row
 * lists in `calls` and `notifies` (the only ones it gets a channel to). A
 * role declared by merging (tests) may call any role.
 */
export type CallableFrom<R extends ActorRole> = R extends RoleName
  ? Catalogue[R]['calls'][number] | (Catalogue[R] extends { notifies: readonly (infer N)[] } ? N : never)
  : ActorRole;

// The catalogue and this file must name the same protocols.
type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
const protocolsMatchCatalogue: Same<keyof ProtocolsByName, ProtocolName> = true;
void protocolsMatchCatalogue;
