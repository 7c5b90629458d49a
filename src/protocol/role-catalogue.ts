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
  'cleanup',
  'journal',
  'qmgr',
  'trivial-rewrite',
  'bounce',
  'pickup',
  'smtp',
  'virtual',
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
export type ProtocolName = 'journal' | 'qmgr' | 'trivial-rewrite' | 'bounce' | 'delivery';

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
  /** Instances for a unix service with maxproc "-": one, or one per core (two at least). */
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
  /** Runs without a master.cf line, and no master.cf line names it. */
  always?: boolean;
  /** A reload keeps the running instance (replacing the journal would replay the whole queue while appends wait). */
  keepOnReload?: boolean;
  /** Its inet services are listeners, each binding the address its service name gives. */
  listens?: boolean;
}

const actor = (role: string): string => `actors/${role}/${role}-actor.js`;

/** The catalogue. */
export const ROLE_CATALOGUE = {
  smtpd: {
    kind: 'daemon', postfix: 'smtpd', serves: null, entry: actor('smtpd'), spare: true, listens: true,
    calls: ['journal', 'trivial-rewrite'],
    job: 'SMTP server: one thread per inet service; access restrictions; 250 only once the journal has the message on disk',
  },
  cleanup: {
    kind: 'inline', postfix: 'cleanup', serves: null, inlineIn: ['smtpd', 'pickup', 'bounce'],
    calls: ['trivial-rewrite'],
    job: 'header fixes, address rewriting, header and body checks, on the way into the queue',
  },
  journal: {
    kind: 'daemon', postfix: '(queue files)', serves: 'journal', entry: actor('journal'), always: true, singleton: true, sharded: true, spare: true, keepOnReload: true,
    calls: [], notifies: ['qmgr'],
    job: 'one per queue shard, its one writer: group-committed appends, outcomes, admin actions, listings',
  },
  qmgr: {
    kind: 'daemon', postfix: 'qmgr', serves: 'qmgr', entry: actor('qmgr'), singleton: true, sharded: true, spare: true,
    calls: ['journal', 'trivial-rewrite', 'bounce'], callsTransports: true,
    job: 'one per queue shard, its active queue: schedules deliveries within host-wide destination limits, retries, expiry, the notices at the end of each pass',
  },
  'trivial-rewrite': {
    kind: 'daemon', postfix: 'trivial-rewrite', serves: 'trivial-rewrite', entry: actor('trivial-rewrite'),
    calls: [],
    job: 'canonical and virtual alias rewriting; address class, transport and nexthop',
  },
  bounce: {
    kind: 'daemon', postfix: 'bounce', serves: 'bounce', entry: actor('bounce'),
    calls: ['journal', 'trivial-rewrite'],
    job: 'RFC 3464 failure, delay and success notices, queued through cleanup',
  },
  pickup: {
    kind: 'daemon', postfix: 'pickup', serves: null, entry: actor('pickup'), singleton: true,
    calls: ['journal', 'trivial-rewrite'],
    job: 'takes what `postrider sendmail` left in the maildrop directory into the queue',
  },
  smtp: {
    kind: 'delivery', postfix: 'smtp', serves: 'delivery', entry: actor('smtp'),
    // one thread drives many SMTP sessions at once (it waits on the network),
    // so a thread per core is enough; more only add start-up time and memory
    instances: 'cores',
    calls: [],
    job: 'SMTP client: MX lookup, relayhost, TLS, connection reuse',
  },
  virtual: {
    kind: 'delivery', postfix: 'virtual', serves: 'delivery', entry: actor('virtual'),
    calls: [],
    job: 'Maildir delivery for virtual_mailbox_domains',
  },
  discard: {
    kind: 'delivery', postfix: 'discard', serves: 'delivery', entry: actor('discard'),
    calls: [],
    job: 'reports every recipient delivered and drops the message',
  },
  error: {
    kind: 'delivery', postfix: 'error', serves: 'delivery', entry: actor('error'),
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

/** The programs a master.cf line may name: every role that is not `always` running. */
export function masterCfPrograms(): ReadonlySet<string> {
  return new Set(ROLE_NAMES.filter((r) => !roleEntry(r).always));
}

/** The delivery agents: a master.cf unix service running one of these is a transport. */
export function deliveryRoles(): RoleName[] {
  return ROLE_NAMES.filter((r) => roleEntry(r).kind === 'delivery');
}

/** Roles a master.cf line may name that run inside others: their lines start nothing. */
export function inlineRoles(): RoleName[] {
  return ROLE_NAMES.filter((r) => roleEntry(r).kind === 'inline');
}
