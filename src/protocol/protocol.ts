/**
 * protocol: the typed messages every actor pair exchanges, and nothing else.
 * A role's protocol maps each message kind to its request body and its reply
 * body; a one-way cast has reply `void`. The actor runtime types call() and
 * cast() against these maps, so a mismatch between two actors is a compile
 * error, not a lost message.
 */
import type {
  AdminAction,
  BodyLocation,
  NewMessage,
  QueueCounts,
  QueuedMessage,
  RecipientOutcome,
  RecipientSpec,
} from '../store/store-types.js';

/** A role's protocol: kind -> { req, rep }. */
export type Protocol = Record<string, { req: unknown; rep: unknown }>;

/** The journal actor: the one writer of the queue store, and its index. */
export interface JournalProtocol extends Protocol {
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
  location: BodyLocation;
  headerLength: number;
  size: number;
  transport: string;
  nexthop: string;
  recipients: Array<RecipientSpec & { index: number }>;
  /** When qmgr took the message into the active queue (for delays=a/b/c/d). */
  activeTime: number;
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
}

export interface DeliveryResult {
  outcomes: DeliveryOutcome[];
  /** Seconds spent in connection setup and in transmission (delays c and d). */
  connectSeconds: number;
  transmitSeconds: number;
}

/** smtp, virtual, discard and error agents all speak this. */
export interface DeliveryProtocol extends Protocol {
  deliver: { req: DeliveryRequest; rep: DeliveryResult };
}

export interface ResolvedAddress {
  /** Address class: local, virtual_alias, virtual_mailbox, relay, default. */
  addressClass: 'local' | 'virtual_alias' | 'virtual_mailbox' | 'relay' | 'default';
  transport: string;
  nexthop: string;
  recipient: string;
}

export interface TrivialRewriteProtocol extends Protocol {
  /** canonical_maps (sender or recipient) then, for recipients, virtual_alias_maps expansion. */
  rewrite: { req: { address: string; role: 'sender' | 'recipient' }; rep: { addresses: string[]; error?: string } };
  resolve: { req: { address: string }; rep: ResolvedAddress };
}

export interface QmgrProtocol extends Protocol {
  /** The journal made a new message durable. Cast. */
  arrived: { req: { message: QueuedMessage }; rep: void };
  /** `postrider flush` (all deferred) or `postqueue -s site` (one destination). */
  flush: { req: { site?: string }; rep: { scheduled: number } };
  admin: { req: { action: AdminAction; queueIds: string[] | 'ALL' }; rep: { affected: number } };
  load: { req: Record<string, never>; rep: { active: number; destinations: Record<string, number> } };
}

export interface BounceProtocol extends Protocol {
  /** Write a DSN for these recipients of a message and queue it; replies with its queue id (none for a null sender). */
  notify: {
    req: {
      message: QueuedMessage;
      kind: 'failure' | 'delay' | 'success';
      recipients: Array<{ index: number; dsn: string; reason: string; relay?: string; reply?: string; command?: string }>;
    };
    rep: { queueId?: string };
  };
}

/** Control requests the supervisor sends every actor. */
export interface ControlProtocol extends Protocol {
  /** Stop taking new work; reply when the work in flight is finished or safe. */
  drain: { req: Record<string, never>; rep: void };
  reopenLog: { req: Record<string, never>; rep: void };
}
