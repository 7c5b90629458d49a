/**
 * role-catalogue: every role Postrider has, listed once. A row says what the
 * role is (a daemon other roles call, a delivery agent qmgr hands recipients
 * to by transport, or a library other roles run inline), its entry file, the
 * protocol it serves (protocol.ts maps the name to the message types), the
 * roles it calls, and how many instances it runs. master.cf parsing (which
 * programs exist), the supervisor (what to start and which channels to
 * wire), `postrider status`, `check` (which services deliver a transport),
 * the typed runtime (which role a call may name) and the README's role table
 * all read this table. Data only; imports nothing.
 *
 * Adding a delivery agent: an actor folder (actors/NAME/NAME-actor.ts), a
 * row here (kind 'delivery', serves 'delivery'), a master.cf line.
 */

/** The roles, in the order the README lists them. */
export const ROLE_NAMES = [
  'smtpd',
  'anvil',
  'cleanup',
  'journal',
  'qmgr',
  'trivial-rewrite',
  'bounce',
  'pickup',
  'smtp',
  'virtual',
  'local',
  'discard',
  'error',
] as const;

export type RoleName = (typeof ROLE_NAMES)[number];

/**
 * daemon: started by the supervisor, called by other roles through its
 * protocol; delivery: a daemon whose every master.cf unix service is a
 * transport qmgr delivers through; inline: a library that runs inside the
 * roles listed in `inlineIn` (its master.cf line starts nothing).
 */
export type RoleKind = 'daemon' | 'delivery' | 'inline';

/** The protocols roles serve; protocol.ts gives each its message types. */
export type ProtocolName = 'journal' | 'qmgr' | 'trivial-rewrite' | 'bounce' | 'delivery' | 'anvil';

/** One role. */
export interface RoleEntry {
  kind: RoleKind;
  /** The Postfix program it stands for. */
  postfix: string;
  /** What it does, in a line (the README's role table). */
  job: string;
  /** The protocol it serves; null when it serves none (it only calls, or runs inline). */
  serves: ProtocolName | null;
  /** The roles it calls (requests with replies): each pair gets a channel, and it drains before them. */
  calls: readonly RoleName[];
  /** Roles it only casts to (no reply awaited): wired, but not an order for draining. */
  notifies?: readonly RoleName[];
  /** It calls every delivery agent, by transport (qmgr). */
  callsTransports?: boolean;
  /** inline: the roles it runs inside. */
  inlineIn?: readonly RoleName[];
  /** The compiled entry file, relative to src/; none for an inline role. */
  entry?: string;
  /** Instances for a unix service with maxproc "-": one, or scaled with the cores (one per two cores, at least one: supervisor/roles.ts). */
  instances?: 1 | 'cores';
  /** One instance whatever maxproc says; on reload the old one exits before the new one starts (it owns state). */
  singleton?: boolean;
  /**
   * One instance per queue shard whatever maxproc says (instance N serves
   * shard N - 1), each a singleton of its shard; reload keeps the count.
   */
  sharded?: boolean;
  /** Keep a pre-started warm worker, so a crash is served again within milliseconds. */
  spare?: boolean;
  /** Runs without a master.cf line; no master.cf line names it unless `named`. */
  always?: boolean;
  /** An `always` role that a master.cf line may still name (its -o values apply): Postfix's stock master.cf has an anvil line. */
  named?: boolean;
  /** A reload keeps the running instance (replacing the journal would replay the whole queue while appends wait). */
  keepOnReload?: boolean;
  /**
   * Its inet services are listeners, each binding the address its service
   * name gives; a service runs maxproc threads on that one address (listen
   * option reusePort), one per core for maxproc "-".
   */
  listens?: boolean;
  /**
   * Off the path of every message (notices, the maildrop, the error and
   * discard transports), or on it with answers its callers keep
   * (trivial-rewrite: smtpd, cleanup and qmgr cache them per thread, so it
   * works once per address a minute, not once per message): its thread
   * runs with a small young generation, so the isolate stays a few MiB
   * smaller while it waits, at the price of more frequent minor
   * collections when it does work.
   */
  rarelyBusy?: boolean;
  /**
   * Started when a peer first needs it, and ended after max_idle without
   * work (Postfix's master starts such services on demand, and they exit
   * after max_idle): an agent for a transport nobody uses costs no thread.
   */
  onDemand?: boolean;
}

const actor = (role: string): string => `actors/${role}/${role}-actor.js`;

/** The catalogue. */
export const ROLE_CATALOGUE = {
  smtpd: {
    kind: 'daemon', postfix: 'smtpd', serves: null, entry: actor('smtpd'), spare: true, listens: true,
    calls: ['journal', 'trivial-rewrite', 'anvil', 'qmgr'],
    job: 'SMTP server: maxproc threads per inet service on one port (one per core for -); access restrictions, recipients refused at RCPT by the resolution qmgr uses; ETRN flushes through qmgr; 250 only once the journal has the message on disk',
  },
  anvil: {
    kind: 'daemon', postfix: 'anvil', serves: 'anvil', entry: actor('anvil'), always: true, named: true, singleton: true, keepOnReload: true, onDemand: true, rarelyBusy: true,
    calls: [],
    job: 'per-client connection counts and rates, shared by every smtpd thread (the smtpd_client_*_limit parameters)',
  },
  cleanup: {
    kind: 'inline', postfix: 'cleanup', serves: null, inlineIn: ['smtpd', 'pickup', 'bounce', 'local'],
    calls: ['trivial-rewrite'],
    job: 'header fixes, address rewriting, header and body checks, on the way into the queue',
  },
  journal: {
    // No warm spare: a restarted journal replays the queue, which takes far
    // longer than the 100 ms a cold thread takes to load; the spare would save
    // little and cost an isolate all the time. smtpd keeps its spare: while
    // its thread is down its port refuses connections.
    kind: 'daemon', postfix: '(queue files)', serves: 'journal', entry: actor('journal'), always: true, singleton: true, sharded: true, keepOnReload: true,
    calls: [], notifies: ['qmgr'],
    job: 'one per queue shard, its one writer: group-committed appends, outcomes, admin actions, listings',
  },
  qmgr: {
    // No warm spare: a restart that takes 100 ms instead of 3 only delays
    // deliveries by as much, and an idle spare costs a whole isolate.
    kind: 'daemon', postfix: 'qmgr', serves: 'qmgr', entry: actor('qmgr'), singleton: true, sharded: true,
    calls: ['journal', 'trivial-rewrite', 'bounce'], callsTransports: true,
    job: 'one per queue shard, its active queue: schedules deliveries within host-wide destination limits, retries, expiry, the notices at the end of each pass',
  },
  'trivial-rewrite': {
    kind: 'daemon', postfix: 'trivial-rewrite', serves: 'trivial-rewrite', entry: actor('trivial-rewrite'), rarelyBusy: true,
    calls: [],
    job: 'canonical and virtual alias rewriting; address class, transport and nexthop',
  },
  bounce: {
    kind: 'daemon', postfix: 'bounce', serves: 'bounce', entry: actor('bounce'), rarelyBusy: true, onDemand: true,
    calls: ['journal', 'trivial-rewrite'],
    job: 'RFC 3464 failure, delay and success notices, queued through cleanup',
  },
  pickup: {
    kind: 'daemon', postfix: 'pickup', serves: null, entry: actor('pickup'), rarelyBusy: true, singleton: true, onDemand: true,
    calls: ['journal', 'trivial-rewrite', 'bounce'],
    job: 'takes what `postrider sendmail` left in the maildrop directory into the queue',
  },
  smtp: {
    kind: 'delivery', postfix: 'smtp', serves: 'delivery', entry: actor('smtp'), onDemand: true,
    // one thread drives many SMTP sessions at once (it waits on the network),
    // so a thread per two cores is enough; more only add start-up time and memory
    instances: 'cores',
    calls: [],
    job: 'SMTP client: MX lookup, relayhost, TLS, connection reuse',
  },
  virtual: {
    kind: 'delivery', postfix: 'virtual', serves: 'delivery', entry: actor('virtual'), onDemand: true,
    calls: [],
    job: 'Maildir delivery for virtual_mailbox_domains',
  },
  local: {
    kind: 'delivery', postfix: 'local', serves: 'delivery', entry: actor('local'), onDemand: true,
    // forwarding (aliases, .forward) queues a new message through cleanup
    calls: ['journal', 'trivial-rewrite'],
    job: 'local(8): aliases, .forward, mbox and Maildir mailboxes, commands and files, as each user',
  },
  discard: {
    kind: 'delivery', postfix: 'discard', serves: 'delivery', entry: actor('discard'), rarelyBusy: true, onDemand: true,
    calls: [],
    job: 'reports every recipient delivered and drops the message',
  },
  error: {
    kind: 'delivery', postfix: 'error', serves: 'delivery', entry: actor('error'), rarelyBusy: true, onDemand: true,
    calls: [],
    job: 'refuses every recipient (or defers it, as `retry`) with the nexthop as the reason',
  },
} as const satisfies Record<RoleName, RoleEntry>;

/** The catalogue's row for a role, as a RoleEntry. */
export function roleEntry(role: RoleName): RoleEntry {
  return ROLE_CATALOGUE[role];
}

/** True when `name` is a role of the catalogue. */
export function isRoleName(name: string): name is RoleName {
  return (ROLE_NAMES as readonly string[]).includes(name);
}

/** The programs a master.cf line may name: every role that is not `always` running, and the `named` ones that are. */
export function masterCfPrograms(): ReadonlySet<string> {
  return new Set(ROLE_NAMES.filter((r) => !roleEntry(r).always || roleEntry(r).named));
}

/** The delivery agents: a master.cf unix service running one of these is a transport. */
export function deliveryRoles(): RoleName[] {
  return ROLE_NAMES.filter((r) => roleEntry(r).kind === 'delivery');
}

/** Roles a master.cf line may name that run inside others: their lines start nothing. */
export function inlineRoles(): RoleName[] {
  return ROLE_NAMES.filter((r) => roleEntry(r).kind === 'inline');
}
