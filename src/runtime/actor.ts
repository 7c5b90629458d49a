/**
 * actor: the worker side of the runtime. An actor's entry file calls
 * runActor(role, setup), naming the role whose protocol it serves; the
 * handlers setup returns must answer exactly that protocol's kinds, and
 * ctx.peers() only names roles the catalogue says it calls, each typed by
 * the protocol that role serves. The runtime builds the ActorContext from workerData,
 * takes the channels the supervisor wires, serves requests with the
 * handlers setup returns (requests that arrive before set-up is done wait),
 * answers heartbeats, and runs drain and shutdown hooks. An actor a reload
 * keeps (RoleSpec.keepOnReload) gets the new configuration in ctx.config,
 * its log follows maillog_file and syslog_name (and is published for the
 * HTTP API when log-lines-shared says so), and its reconfigure hooks run.
 * A setup that throws is reported to the supervisor and the thread exits
 * with status 1.
 */
import { parentPort, threadId, workerData, isMainThread } from 'node:worker_threads';
import { MainConfig } from '../config/main-config.js';
import type { MasterService } from '../config/config-types.js';
import type { ActorRole, CallableFrom, DeliveryProtocol, Protocols, Rep, Req } from '../protocol/protocol.js';
import type { RoleName } from '../protocol/role-catalogue.js';
import { syslogTargetOf } from '../config/syslog-target.js';
import { Logger, configureLogging, flushLog, reopenLog } from '../util/log.js';
import { shareLogLines } from '../util/log-channel.js';
import { logLinesShared } from '../config/log-lines-shared.js';
import { snapshot as metricsSnapshot } from '../util/metrics-counters.js';
import { PeerLink, PeerSet, typedGroup, type PeerAddress, type PeerGroup } from './peer.js';
import type { ActorAssignment, ActorWorkerData, FaultKind, FromWorker, ShardAssignment, ToWorker } from './control-messages.js';
import { SUPERVISOR_ROLE } from './control-messages.js';
import { collectStartupGarbage } from './startup-gc.js';

export { ActorCallError } from './actor-error.js';
export type { PeerGroup, CallOptions } from './peer.js';

/** What an actor's setup gets; R is the role the entry file serves. */
export interface ActorContext<R extends ActorRole = ActorRole> {
  /** The role this instance runs as (a test may run an entry file under another name). */
  role: string;
  instance: number;
  threadId: number;
  /**
   * The queue-id salt no other live incarnation holds: make queue ids with
   * one QueueIdGenerator(idSalt) per thread, never from the instance number
   * (a reload runs the old and the new instance side by side).
   */
  idSalt: number;

  /** The configuration; replaced by a reload that keeps this actor (what set-up read stays as it was). */
  config: MainConfig;
  /**
   * For an inet listener: the most sessions it may hold so that the process
   * keeps file descriptors for the control socket, the journal and pickup
   * (fd-budget.ts). A listener says 421 beyond it and must not accept more
   * than SESSION_CAP_SLACK past it. Undefined: the limit is unknown, no cap.
   */
  sessionCapFromFdLimit?: number;
  service?: MasterService;
  /** A sharded role's queue shard (journal, qmgr): its number, the count, the shared delivery counters. */
  shard?: ShardAssignment;
  log: Logger;
  /** The live instances of a role this one calls, typed by the protocol that role serves. */
  peers<T extends CallableFrom<R>>(role: T): PeerGroup<Protocols[T]>;
  /**
   * The instances of the master.cf service named `transport` (Postfix's
   * private/<transport>), each running with that service's -o values;
   * undefined when no service of this configuration delivers that transport.
   */
  transport(name: string): PeerGroup<DeliveryProtocol> | undefined;
  /** The instance numbers of that service's agents, running or waiting on demand ([] for no such transport). */
  transportInstances(name: string): number[];
  /** The configuration an inline role (cleanup) runs with here: this actor's, with that role's own master.cf -o values on top. */
  inlineConfig(role: RoleName): MainConfig;
  /** Runs when the actor is taken out of service; `deadlineMs` is how long its open sessions may take (supervisor_drain_timeout). */
  onDrain(fn: (deadlineMs: number) => Promise<void> | void): void;
  onShutdown(fn: () => Promise<void> | void): void;
  /** Runs when a reload keeps this actor, after ctx.config holds the new configuration. */
  onReconfigure(fn: (config: MainConfig) => Promise<void> | void): void;
  /** Runs when an incarnation wired to this one is gone (`uid` is the one handlers saw in `from`). */
  onPeerDown(fn: (peer: { role: string; uid: number }) => void): void;
  /**
   * For an actor that waits on demand: `fn` says it still holds work no
   * request stands for (open connections anvil counts, maildrop files pickup
   * is taking in), so max_idle does not end it while true.
   */
  holdsWork(fn: () => boolean): void;
  /**
   * For an inet listener: how many threads serve its service, and whether
   * they share the address with the listen option reusePort (the kernel
   * spreads connections over them). Undefined for other actors.
   */
  listener?: { threads: number; reusePort: boolean };
  ready(): void;
}

/**
 * One handler for every kind of the protocol, and none for a kind it does
 * not list: a protocol change that one side misses is a compile error.
 * (A kind a peer sends anyway, from an older build, answers ERR_NO_HANDLER.)
 */
export type Handlers<P> = {
  [K in keyof P]: (body: Req<P, K>, from: { role: string; instance: number; uid?: number }) => Rep<P, K> | Promise<Rep<P, K>>;
};

/** Every key of H that P lacks, as `never`: a handler for a kind the protocol does not list is a compile error. */
type NoOtherKinds<H, P> = { [K in Exclude<keyof H, keyof P>]: never };

type AnyHandler = (body: unknown, from: PeerAddress) => unknown;

/** Kinds every actor answers unless its handlers define them. */
/** How often a group that stays empty asks the supervisor again to start its role. */
const DEMAND_REPEAT_MS = 1_000;

const BUILTIN_HANDLERS = new Map<string, AnyHandler>([
  ['reopenLog', () => reopenLog()],
  ['metrics', () => metricsSnapshot()],
]);

interface Queued {
  kind: string;
  body: unknown;
  from: PeerAddress;
  resolve(v: unknown): void;
  reject(e: unknown): void;
}

/**
 * Runs this worker thread as an actor. Call once, from the role's entry
 * file, with the role whose protocol it serves (`role` types the handlers
 * and the peers; the supervisor's assignment says which role it runs as).
 * opts.manualReady: the actor calls ctx.ready() itself once it serves.
 */
export function runActor<R extends ActorRole, H extends Handlers<Protocols[R]> & NoOtherKinds<H, Protocols[R]>>(
  role: R,
  setup: (ctx: ActorContext<R>) => Promise<H> | H,
  opts?: { manualReady?: boolean },
): void {
  if (isMainThread || !parentPort) throw new Error('runActor must run in a worker thread started by the supervisor');
  const port = parentPort;
  const data = workerData as ActorWorkerData;
  const send = (msg: FromWorker): void => port.postMessage(msg);

  const groups = new Map<string, PeerSet>();
  /** Links by the service their peer runs (transport name), and each incarnation's service, for retire and down. */
  const services = new Map<string, PeerSet>();
  const serviceOf = new Map<number, string[]>();
  const inboundLinks = new Set<PeerLink>();
  const drainHooks: Array<(deadlineMs: number) => Promise<void> | void> = [];
  const shutdownHooks: Array<() => Promise<void> | void> = [];
  const reconfigureHooks: Array<(config: MainConfig) => Promise<void> | void> = [];
  const peerDownHooks: Array<(peer: { role: string; uid: number }) => void> = [];
  let context: ActorContext | undefined;
  let handlers: Record<string, AnyHandler> | undefined;
  let queued: Queued[] = [];
  let log = new Logger(data.spare ? data.role : data.assignment.role, threadId);
  const warn = (text: string): void => log.warning(text);

  const dispatch = (kind: string, body: unknown, from: PeerAddress): unknown => {
    if (!handlers) {
      return new Promise((resolve, reject) => queued.push({ kind, body, from, resolve, reject }));
    }
    // own properties only: a kind such as "constructor" must not reach Object.prototype
    const own = Object.prototype.hasOwnProperty.call(handlers, kind) ? handlers[kind] : undefined;
    const h = own ?? BUILTIN_HANDLERS.get(kind);
    if (typeof h !== 'function') throw Object.assign(new Error(`no handler for ${kind}`), { code: 'ERR_NO_HANDLER' });
    return h(body, from);
  };

  // A call that finds no instance asks the supervisor to start one (a role
  // that waits on demand); once a second per group is enough, as the call
  // waits for the wiring anyway.
  const demanded = new Map<string, number>();
  const demand = (key: string, msg: FromWorker): void => {
    const now = Date.now();
    if (now - (demanded.get(key) ?? 0) < DEMAND_REPEAT_MS) return;
    demanded.set(key, now);
    send(msg);
  };

  const group = (role: string): PeerSet => {
    let g = groups.get(role);
    if (!g) {
      g = new PeerSet(role, warn);
      if (role !== SUPERVISOR_ROLE) g.onEmpty = () => demand(`role ${role}`, { ctl: 'demand', role });
      groups.set(role, g);
    }
    return g;
  };

  const serviceGroup = (name: string): PeerSet => {
    let g = services.get(name);
    if (!g) {
      g = new PeerSet(name, warn);
      g.onEmpty = () => demand(`service ${name}`, { ctl: 'demand', service: name });
      services.set(name, g);
    }
    return g;
  };

  // An on-demand actor counts the requests in hand; after maxIdleMs with
  // none it says so, and the supervisor ends it (Postfix's max_idle).
  let inHand = 0;
  let lastWork = Date.now();
  const tracked = (kind: string, body: unknown, from: PeerAddress): unknown => {
    inHand++;
    const done = (): void => {
      inHand--;
      lastWork = Date.now();
    };
    let r: unknown;
    try {
      r = dispatch(kind, body, from);
    } catch (err) {
      done();
      throw err;
    }
    if (r instanceof Promise) r.then(done, done);
    else done();
    return r;
  };
  const holding: Array<() => boolean> = [];
  const watchIdle = (maxIdleMs: number): void => {
    const timer = setInterval(() => {
      if (holding.some((fn) => fn())) lastWork = Date.now();
      if (inHand > 0 || Date.now() - lastWork < maxIdleMs) return;
      // Said again each maxIdleMs while idle: the supervisor may have been busy with a reload.
      lastWork = Date.now();
      send({ ctl: 'idle' });
    }, Math.max(100, Math.min(maxIdleMs / 4, 5_000)));
    timer.unref();
  };
  let onDemandIdle: number | undefined;

  let readySent = false;
  const ready = (): void => {
    if (readySent) return;
    readySent = true;
    send({ ctl: 'ready' });
    collectStartupGarbage();
  };

  const runHooks = async (hooks: Array<() => Promise<void> | void>): Promise<string | undefined> => {
    const errors: string[] = [];
    for (const fn of hooks) {
      try {
        await fn();
      } catch (err) {
        errors.push((err as Error)?.message ?? String(err));
      }
    }
    return errors.length ? errors.join('; ') : undefined;
  };

  const configOf = (a: ActorAssignment): MainConfig => {
    const config = new MainConfig(a.service ? { ...a.params, ...a.service.overrides } : a.params, a.dir);
    configureLogging({
      maillogFile: config.path('maillog_file'),
      syslog: syslogTargetOf(config),
      myhostname: config.get('myhostname'),
      syslogName: config.get('syslog_name') || 'postrider',
    });
    // The HTTP API reads these lines when it has no log file to follow; a reload may turn it on or off.
    shareLogLines(logLinesShared(config));
    return config;
  };

  const reconfigure = async (a: ActorAssignment): Promise<void> => {
    const ctx = context;
    if (!ctx) return send({ ctl: 'reconfigured', error: 'not started' });
    let error: string | undefined;
    try {
      ctx.config = configOf(a);
      ctx.service = a.service;
      error = await runHooks(reconfigureHooks.map((fn) => () => fn(ctx.config)));
    } catch (err) {
      error = (err as Error)?.message ?? String(err);
    }
    send({ ctl: 'reconfigured', error });
  };

  const start = async (a: ActorAssignment): Promise<void> => {
    const config = configOf(a);
    // [N] in log lines is the thread id: Node never reuses one within a process, so a
    // restarted or reloaded actor gets a new number, as a new Postfix process a new pid.
    log = new Logger(a.role, threadId);
    const ctx: ActorContext<R> = {
      role: a.role,
      instance: a.instance,
      threadId,
      idSalt: a.idSalt,
      config,
      service: a.service,
      sessionCapFromFdLimit: a.sessionCapFromFdLimit,
      shard: a.shard,
      log,
      peers: <T extends CallableFrom<R>>(peer: T) => typedGroup<Protocols[T]>(group(peer)),
      transport: (name) => (Object.hasOwn(a.transports, name) ? typedGroup<DeliveryProtocol>(serviceGroup(name)) : undefined),
      transportInstances: (name) => (Object.hasOwn(a.transports, name) ? a.transports[name] : []),
      inlineConfig: (inlineRole) => {
        const own = a.inline[inlineRole];
        return own && Object.keys(own).length > 0 ? config.with(own) : config;
      },
      onDrain: (fn) => drainHooks.push(fn),
      onShutdown: (fn) => shutdownHooks.push(fn),
      onReconfigure: (fn) => reconfigureHooks.push(fn),
      onPeerDown: (fn) => peerDownHooks.push(fn),
      holdsWork: (fn) => holding.push(fn),
      ready,
    };
    if (a.listener) ctx.listener = { ...a.listener };
    if (a.maxIdleMs !== undefined) {
      onDemandIdle = a.maxIdleMs;
      watchIdle(a.maxIdleMs);
    }
    context = ctx;
    try {
      handlers = (await setup(ctx)) as unknown as Record<string, AnyHandler>;
    } catch (err) {
      const message = (err as Error)?.message ?? String(err);
      log.fatal(`set-up failed${a.role === role ? '' : ` (${role} actor run as ${a.role})`}: ${message}`);
      flushLog();
      send({ ctl: 'setupError', message });
      process.exit(1);
    }
    const waiting = queued;
    queued = [];
    for (const q of waiting) {
      try {
        Promise.resolve(dispatch(q.kind, q.body, q.from)).then(q.resolve, q.reject);
      } catch (err) {
        q.reject(err);
      }
    }
    if (!opts?.manualReady) ready();
  };

  port.on('message', (msg: ToWorker) => {
    switch (msg.ctl) {
      case 'ping':
        send({ ctl: 'pong', seq: msg.seq });
        break;
      case 'activate':
        void start(msg.assignment);
        break;
      case 'wire': {
        const link = new PeerLink(msg.port, { role: msg.role, instance: msg.instance, uid: msg.uid }, onDemandIdle !== undefined && msg.role !== SUPERVISOR_ROLE ? tracked : dispatch, warn);
        // A draining peer may still call us to finish its work; we never send it new work.
        if (msg.inboundOnly) inboundLinks.add(link);
        else {
          group(msg.role).add(link);
          if (msg.service !== undefined) {
            const names = [msg.service, ...(msg.also ?? [])];
            serviceOf.set(msg.uid, names);
            for (const name of names) serviceGroup(name).add(link);
          }
        }
        break;
      }
      case 'peerRetire': {
        groups.get(msg.role)?.retire(msg.uid);
        for (const svc of serviceOf.get(msg.uid) ?? []) services.get(svc)?.retire(msg.uid);
        break;
      }
      case 'peerDown': {
        groups.get(msg.role)?.down(msg.uid, msg.reason);
        for (const svc of serviceOf.get(msg.uid) ?? []) services.get(svc)?.down(msg.uid, msg.reason);
        serviceOf.delete(msg.uid);
        for (const fn of peerDownHooks) {
          try {
            fn({ role: msg.role, uid: msg.uid });
          } catch (err) {
            warn(`peer-down hook: ${(err as Error)?.message ?? String(err)}`);
          }
        }
        break;
      }
      case 'drain': {
        // All hooks start now, so a listener's close() happens before 'draining'
        // is posted; the supervisor may then bind the replacement on that port.
        const running = drainHooks.map((fn) => runHooks([() => fn(msg.deadlineMs)]));
        setImmediate(() => send({ ctl: 'draining' }));
        void Promise.all(running).then((errs) => {
          const error = errs.filter(Boolean).join('; ');
          send({ ctl: 'drained', error: error || undefined });
        });
        break;
      }
      case 'shutdown':
        void runHooks(shutdownHooks).then((error) => {
          flushLog();
          for (const g of groups.values()) g.closeAll('shutting down');
          for (const g of services.values()) g.closeAll('shutting down');
          send({ ctl: 'shutdownDone', error });
        });
        break;
      case 'reconfigure':
        void reconfigure(msg.assignment);
        break;
      case 'fault':
        injectFault(msg.kind);
        break;
    }
  });

  // The supervisor's channel is wired like any peer.
  group(SUPERVISOR_ROLE);

  if (data.spare) {
    send({ ctl: 'loaded' });
    // A warm spare waits idle, maybe for long: its loading garbage goes now too.
    collectStartupGarbage();
  }
  else void start(data.assignment);
}

/** Breaks this worker on purpose; only reached when the supervisor allows faults. */
function injectFault(kind: FaultKind): void {
  switch (kind) {
    case 'throw':
      setImmediate(() => {
        throw new Error('injected fault: throw');
      });
      break;
    case 'exit':
      flushLog();
      process.exit(3);
      break;
    case 'oom': {
      const hog: unknown[] = [];
      setImmediate(() => {
        // large arrays on the V8 heap reach maxOldGenerationSizeMb fast
        for (let i = 0; ; i++) hog.push(new Array(1 << 20).fill(i));
      });
      break;
    }
    case 'hang':
      setImmediate(() => {
        for (;;) {
          // a busy loop: heartbeats stop
        }
      });
      break;
  }
}
