/**
 * supervisor: the main thread's tree of actor workers (Postfix's master).
 * Starts one worker per planned instance, wires a MessageChannel between
 * every pair of instances whose roles talk, restarts a crashed instance
 * one-for-one (from a warm spare when the role has one), ends threads the
 * watchdog finds dead (or busy for too long; supervisor-watchdog), throttles
 * restarts that exceed the intensity limit once the daemon serves and fails
 * the start when they do before (restart-policy), drains and stops on
 * stop(), replaces the instances on reload() (keeping the old tree serving
 * when the new one cannot start), and serves the control socket. Errors
 * reach callers as SupervisorError or
 * ActorCallError; a worker's crash is logged, never thrown. The shared
 * records and public types are in supervisor-types.ts, the status report in
 * supervisor-status.ts, one worker's spawning and control messages in
 * supervisor-worker.ts, the channels between actors in supervisor-wiring.ts
 * and the replacement of a generation on reload in supervisor-reload.ts.
 */
import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import { MaildropWatch } from './maildrop-watch.js';
import { MainConfig } from '../config/main-config.js';
import { parameterInfo } from '../config/parameters.js';
import { syslogTargetOf } from '../config/syslog-target.js';
import { Logger, configureLogging, flushLog } from '../util/log.js';
import { ActorCallError } from '../runtime/actor-error.js';
import { typedGroup, type CallOptions } from '../runtime/peer.js';
import type { ActorProtocol, ActorRole, BuiltinProtocol, Rep, Req } from '../protocol/protocol.js';
import { FAULT_KINDS, type ActorAssignment, type ActorWorkerData, type FaultKind } from '../runtime/control-messages.js';
import { ControlServer } from './control-server.js';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { registerBuiltinCommands } from './control-commands.js';
import { claimPidFile } from './daemon-liveness.js';
import { configFdBudget, describeFdBudget, openFileCount, openFileLimit, type FdBudget } from './fd-budget.js';
import { pidFilePath, releasePidFile } from './pid-file.js';
import { RestartPolicy } from './restart-policy.js';
import { inlineRoles } from '../protocol/role-catalogue.js';
import { configuredShards, inlineOverridesOf, listenerThreads, planSlots, transportsOf, type Plan, type RoleSpec, type SlotPlan, type SupervisorConfig } from './role-registry.js';
import { reusePortSupport, type ReusePortSupport } from './reuse-port.js';
import { probeListen } from './listen-probe.js';
import { SupervisorError } from './supervisor-error.js';
import { planReload, preflight, refuseInvalid, refuseUnreloadable, reloadSlots, type ReloadHost } from './supervisor-reload.js';
import { supervisorStatus } from './supervisor-status.js';
import { deferred, oneLine, type Incarnation, type ReloadHook, type ReloadHookStep, type Slot, type SupervisorOptions, type SupervisorStatus } from './supervisor-types.js';
import { SaltPool } from './supervisor-salts.js';
import { createLimitTable } from '../runtime/shared-limits.js';
import { listShards } from '../store/store-segment.js';
import { Wiring } from './supervisor-wiring.js';
import { drainWorker, exitReason, onWorkerMessage, postTo, shutdownWorker, spawnWorker, waitForWorker, workerName, type WorkerEvents } from './supervisor-worker.js';
import { Watchdog } from './supervisor-watchdog.js';
import { collectStartupGarbage } from '../runtime/startup-gc.js';

// The public types live with the records they share fields with; importers keep using this module.
export type { ActorStatus, ReloadHook, ReloadHookStep, SupervisorOptions, SupervisorStatus } from './supervisor-types.js';

/** The version logged at start and reload: mail_version's value in the parameter table. */
const MAIL_VERSION = parameterInfo('mail_version')?.default ?? '';

/** How long a kept actor may take to apply a new configuration. */
const RECONFIGURE_TIMEOUT_MS = 10_000;
/** How long an idle agent, already out of its peers' rotation, waits for requests still on their way before it drains. */
const IDLE_GRACE_MS = 1_000;

/** supervisor_drain_timeout in ms; 30 s when malformed (check reports it). */
function drainTimeoutFrom(main: MainConfig): number {
  try {
    return main.has('supervisor_drain_timeout') ? main.time('supervisor_drain_timeout') * 1000 : 30_000;
  } catch {
    return 30_000;
  }
}

/**
 * The supervisor tree. Events: 'fatal' (reason), 'restart' ({ role, instance, ms, spare }),
 * 'throttle' ({ role, instance, delayMs, reason }), 'reloading' (a reload
 * begins), 'reloaded' (it ended: undefined, or the error that refused it),
 * 'stopping' (a stop or a fatal halt begins), 'stopped' (exit code).
 */
export class Supervisor extends EventEmitter {
  /** The control socket; other parts register their commands here before start(). */
  readonly control = new ControlServer();
  /** Resolves with the exit code once the tree has stopped (0 after stop(), 1 after a fatal error). */
  readonly done: Promise<number>;

  private config: SupervisorConfig;
  private main: MainConfig;
  private readonly registry: Map<string, RoleSpec>;
  private readonly log = new Logger('master', process.pid);
  private readonly slots: Slot[] = [];
  private readonly incarnations = new Map<number, Incarnation>();
  private readonly spares = new Map<string, Incarnation>();
  private readonly wiring = new Wiring(this.incarnations, this.log);
  private readonly providers = new Map<string, () => Promise<unknown>>();
  private readonly startHooks: Array<() => Promise<void>> = [];
  private readonly reloadHooks: ReloadHook[] = [];
  /** Reloads run one after another. */
  private reloadChain: Promise<unknown> = Promise.resolve();
  private readonly retiring = new Set<Promise<void>>();
  /** The queue-id salt of every live incarnation: no two live ones share one. */
  private readonly salts = new SaltPool();
  private readonly restartPolicy: RestartPolicy;
  private readonly watchdog: Watchdog;
  /** Restarts waiting out a throttle delay, so stop() can cancel them. */
  private readonly throttled = new Set<NodeJS.Timeout>();
  private nextUid = 1;
  /** Queue shards served: what queue_shard_count asks for, or more when more shard directories are on disk (set at start). */
  private shards = 1;
  /** The host-wide delivery counters every qmgr shares when there are several shards. */
  private limitTable?: SharedArrayBuffer;
  private started = false;
  /** A reload is changing the slots: an idle agent is left alone until it is done. */
  private reloading = false;
  private startedAt = Date.now();
  /** The open-file limit and what the main thread held before any worker, read at start. */
  private fdLimit?: number;
  private mainFds = 0;
  private budgetFor?: { config: SupervisorConfig; budget: FdBudget | undefined };
  private heartbeat?: NodeJS.Timeout;
  /** Wakes pickup, which waits on demand, when the maildrop holds mail. */
  private maildrop?: MaildropWatch;
  private stopping?: Promise<void>;
  private pidPath?: string;
  private resolveDone!: (code: number) => void;
  private readonly heartbeatMs: number;
  private readonly missed: number;
  private readonly cores: number;
  /** Whether listener threads may share an address (listen option reusePort). */
  private readonly reusePort: ReusePortSupport;
  private drainTimeoutMs: number;
  private readonly shutdownTimeoutMs: number;
  /** How spawned workers report back to the tree. */
  private readonly workerEvents: WorkerEvents;
  /** What reload() lets supervisor-reload reach. */
  private readonly reloadHost: ReloadHost;

  constructor(private readonly opts: SupervisorOptions) {
    super();
    this.config = opts.config;
    this.main = new MainConfig(opts.config.params, opts.config.dir);
    this.registry = new Map(opts.registry.map((s) => [s.role, s]));
    this.restartPolicy = RestartPolicy.fromParams(opts.config.params, opts.config.dir);
    this.heartbeatMs = opts.heartbeatMs ?? 1000;
    this.missed = opts.missedHeartbeats ?? 3;
    this.watchdog = new Watchdog({
      heartbeatMs: this.heartbeatMs,
      missed: this.missed,
      busyTimeoutMs: opts.busyTimeoutMs ?? busyTimeoutMs(this.main),
      log: this.log,
      kill: (inc, why) => {
        inc.hung = true;
        this.log.warning(`process ${inc.slot?.role} pid ${inc.threadId}: ${why}; killed`);
        void inc.worker.terminate();
      },
    });
    this.cores = opts.cores ?? availableParallelism();
    this.reusePort = opts.reusePort === undefined ? reusePortSupport() : opts.reusePort ? { supported: true } : { supported: false, reason: 'reusePort turned off by the supervisor options' };
    this.drainTimeoutMs = opts.drainTimeoutMs ?? drainTimeoutFrom(this.main);
    this.shutdownTimeoutMs = opts.shutdownTimeoutMs ?? 5_000;
    this.workerEvents = {
      message: (inc, msg) => {
        if (msg?.ctl === 'demand') this.onDemand(msg);
        else if (msg?.ctl === 'idle') this.onIdle(inc);
        else onWorkerMessage(inc, msg, this.started, this.log);
      },
      exit: (inc, code) => this.onExit(inc, code),
    };
    this.reloadHost = {
      registry: this.registry,
      slots: this.slots,
      spares: this.spares,
      wiring: this.wiring,
      log: this.log,
      drainTimeoutMs: () => this.drainTimeoutMs,
      shutdownTimeoutMs: this.shutdownTimeoutMs,
      useConfig: (c) => this.useConfig(c),
      dropSlot: (slot) => {
        const i = this.slots.indexOf(slot);
        if (i >= 0) this.slots.splice(i, 1);
      },
      reconfigure: (inc) => this.reconfigure(inc),
      addSlot: (p) => this.addSlot(p),
      launch: (slot) => this.launch(slot),
      makeSpare: (spec) => this.makeSpare(spec),
      background: (p) => this.background(p),
    };
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
    registerBuiltinCommands(this.control, this);
  }

  /** The configuration now running. */
  currentConfig(): SupervisorConfig {
    return this.config;
  }

  /** True when debug_fault_injection = yes. */
  faultInjection(): boolean {
    try {
      return this.main.bool('debug_fault_injection');
    } catch {
      return false;
    }
  }

  /** Loads the configuration again (for the control socket's reload). */
  async loadConfig(): Promise<SupervisorConfig> {
    if (!this.opts.loadConfig) throw new SupervisorError('ERR_CONFIG_INVALID', 'reload: no configuration loader');
    return this.opts.loadConfig();
  }

  /**
   * Starts every actor and resolves once each one is ready; writes the pid
   * file and opens the control socket. Rejects (and stops what started) when
   * another daemon holds the pid file, an actor's set-up fails, or an actor
   * is not ready in time.
   */
  async start(): Promise<void> {
    configureLogging({
      maillogFile: this.main.path('maillog_file'),
      syslog: syslogTargetOf(this.main),
      myhostname: this.main.get('myhostname'),
      syslogName: this.main.get('syslog_name') || 'postrider',
    });
    const queueDir = this.main.path('queue_directory');
    if (!queueDir) throw new SupervisorError('ERR_CONFIG_INVALID', 'queue_directory is not set');
    await claimPidFile(queueDir);
    this.pidPath = pidFilePath(queueDir);
    this.startedAt = Date.now();
    this.fdLimit = openFileLimit();
    this.mainFds = openFileCount() ?? 0;
    try {
      if (this.opts.controlSocket !== false) await this.control.listen(queueDir);
      this.heartbeat = setInterval(() => this.beat(), this.heartbeatMs);
      this.heartbeat.unref();
      this.shards = Math.max(configuredShards(this.config, this.cores), ...listShards(queueDir).map((n) => n + 1));
      if (this.shards > 1) this.limitTable = createLimitTable(this.shards);
      const plan = this.plan(this.config);
      const inline = new Set<string>(this.opts.inlinePrograms ?? inlineRoles());
      for (const s of plan.skipped) if (!inline.has(s.command)) this.log.warning(`${s.file}, line ${s.line}: service ${s.name}: unsupported program ${s.command}; skipped`);
      this.warnNarrowed(plan);
      await this.probeSharedListeners(plan);
      const slots = plan.slots.map((p) => this.addSlot(p));
      this.logFdBudget();
      for (const spec of this.registry.values()) if (spec.spare && slots.some((s) => s.role === spec.role)) this.makeSpare(spec);
      // Agents that wait on demand start when a peer first calls them (onDemand below).
      for (const slot of slots) if (slot.spec.onDemand) slot.cold = true;
      for (const slot of slots) if (!slot.cold) this.launch(slot);
      await this.waitReady(slots.filter((s) => !s.cold));
      // Start hooks (the metrics listener) run once every actor serves; one
      // that fails stops the tree like an actor that cannot start.
      for (const hook of this.startHooks) await hook();
      const pickupWaits = (): boolean => this.slots.some((sl) => sl.role === 'pickup' && !sl.removed && sl.cold);
      if (slots.some((sl) => sl.role === 'pickup' && sl.spec.onDemand)) {
        this.maildrop = new MaildropWatch(queueDir, pickupWaits, () => this.onDemand({ role: 'pickup' }));
        await this.maildrop.start();
      }
      this.started = true;
      this.log.info(`daemon started -- version ${MAIL_VERSION}, Node ${process.version}, configuration ${this.config.dir}`);
      collectStartupGarbage();
    } catch (err) {
      await this.halt();
      throw err;
    }
  }

  /** Runs `fn` at the end of start(), after every actor is ready; a rejection makes start() stop the tree and reject. */
  addStartHook(fn: () => Promise<void>): void {
    this.startHooks.push(fn);
  }

  /** Drains every actor (callers before the roles they call), shuts them down, and resolves when all have exited. */
  stop(): Promise<void> {
    if (!this.stopping) {
      this.emit('stopping');
      this.stopping = this.gracefulStop(0);
    }
    return this.stopping;
  }

  /** Runs `fn` at every reload, before the actors change (see ReloadHook). */
  addReloadHook(fn: ReloadHook): void {
    this.reloadHooks.push(fn);
  }

  /**
   * Replaces the instances with ones running newConfig (supervisor-reload.ts
   * says in what order); services added or removed in master.cf are started
   * or stopped, and the journal is kept. Refuses (SupervisorError
   * ERR_CONFIG_INVALID or ERR_RELOAD_FAILED, one line) when newConfig has
   * errors, moves the queue, names a listener that cannot bind, or its new
   * actors cannot start: the old tree then keeps serving. Reloads queue up.
   */
  reload(newConfig: SupervisorConfig): Promise<void> {
    const run = this.reloadChain.then(() => this.reloadNow(newConfig));
    this.reloadChain = run.catch(() => undefined);
    return run;
  }

  private async reloadNow(newConfig: SupervisorConfig): Promise<void> {
    if (this.stopping) throw new SupervisorError('ERR_STOPPING', 'the mail system is stopping');
    this.reloading = true;
    this.emit('reloading');
    let refused: unknown;
    try {
      await this.reloadSteps(newConfig);
    } catch (err) {
      refused = err;
      throw err;
    } finally {
      this.reloading = false;
      this.emit('reloaded', refused);
    }
  }

  private async reloadSteps(newConfig: SupervisorConfig): Promise<void> {
    refuseInvalid(newConfig);
    const old = this.config;
    refuseUnreloadable(old, newConfig);
    const wanted = configuredShards(newConfig, this.cores);
    if (wanted !== configuredShards(old, this.cores)) {
      throw new SupervisorError('ERR_CONFIG_INVALID', `reload refused: queue_shard_count changed (${configuredShards(old, this.cores)} to ${wanted} shards); stop and start the mail system to change it`);
    }
    const planned = this.plan(newConfig);
    const plan = planReload(this.reloadHost, old, newConfig, planned.slots);
    await preflight(plan);
    const prepared: ReloadHookStep[] = [];
    const abort = async (): Promise<void> => {
      for (const step of prepared) await step.abort();
    };
    try {
      for (const hook of this.reloadHooks) {
        const step = await hook(newConfig);
        if (step) prepared.push(step);
      }
    } catch (err) {
      await abort();
      throw new SupervisorError('ERR_RELOAD_FAILED', `reload refused: ${oneLine(err as Error)}; the running configuration is kept`);
    }
    try {
      await reloadSlots(this.reloadHost, old, newConfig, plan);
    } catch (err) {
      await abort();
      throw err;
    }
    for (const step of prepared) await step.commit();
    this.warnNarrowed(planned);
    this.logFdBudget();
    this.restartPolicy.configure(newConfig.params, newConfig.dir);
    if (this.opts.busyTimeoutMs === undefined) this.watchdog.opts.busyTimeoutMs = busyTimeoutMs(this.main);
    this.log.info(`reload -- version ${MAIL_VERSION}, configuration ${newConfig.dir}`);
  }

  /** The configuration new incarnations get (a reload switches it, and back when it fails). */
  private useConfig(config: SupervisorConfig): void {
    this.config = config;
    this.main = new MainConfig(config.params, config.dir);
    this.drainTimeoutMs = this.opts.drainTimeoutMs ?? drainTimeoutFrom(this.main);
  }

  /** Hands a running incarnation the configuration in use (an actor a reload keeps). */
  private async reconfigure(inc: Incarnation): Promise<void> {
    if (!inc.slot || inc.state === 'exited') return;
    const done = waitForWorker(inc, 'reconfigured', RECONFIGURE_TIMEOUT_MS);
    postTo(inc, { ctl: 'reconfigure', assignment: this.assignment(inc.slot, inc.uid, inc.idSalt!) }, this.log);
    if (!(await done)) this.log.warning(`${workerName(inc)}: did not take the new configuration in ${RECONFIGURE_TIMEOUT_MS} ms`);
  }

  /** The previous event-loop reading per worker, so status() reports the load since the last request. */
  private readonly eluSeen = new WeakMap<Incarnation, EventLoopUtilization>();

  /** The tree's state for `postrider status`. */
  status(): Promise<SupervisorStatus> {
    return supervisorStatus({
      slots: this.slots,
      ready: this.started && !this.stopping,
      startedAt: this.startedAt,
      providers: this.providers,
      eluSeen: this.eluSeen,
    });
  }

  /** Resolves once every warm spare has loaded its code (for measurements). */
  async sparesLoaded(): Promise<void> {
    await Promise.all([...this.spares.values()].map((s) => s.loaded.promise));
  }

  /** Queue shards served: journal and qmgr run instances 1 .. this (set by start()). */
  queueShards(): number {
    return this.shards;
  }

  /** True when some instance of the role is running now. */
  hasLiveActor(role: string): boolean {
    return this.slots.some((s) => !s.removed && s.role === role && s.current !== undefined && s.current.state === 'running');
  }

  /** Adds a section to status() (e.g. queue counts). */
  addStatusProvider(name: string, fn: () => Promise<unknown>): void {
    this.providers.set(name, fn);
  }

  /**
   * Calls a role from the supervisor, as an actor would (round robin unless
   * opts pick an instance), typed by the protocol the role serves.
   */
  callActor<R extends ActorRole, K extends keyof ActorProtocol<R> & string>(
    role: R,
    kind: K,
    body: Req<ActorProtocol<R>, K>,
    opts?: CallOptions,
  ): Promise<Rep<ActorProtocol<R>, K>> {
    if (!this.registry.has(role)) return Promise.reject(new ActorCallError(`${kind}: no role ${role}`, 'ERR_NO_PEER', false));
    return typedGroup<ActorProtocol<R>>(this.wiring.group(role)).call(kind, body, opts);
  }

  /** Calls a kind every actor answers (metrics, reopenLog) on one role named at run time (from status). */
  callBuiltin<K extends keyof BuiltinProtocol>(role: string, kind: K, body: Req<BuiltinProtocol, K>, opts?: CallOptions): Promise<Rep<BuiltinProtocol, K>> {
    if (!this.registry.has(role)) return Promise.reject(new ActorCallError(`${kind}: no role ${role}`, 'ERR_NO_PEER', false));
    return typedGroup<BuiltinProtocol>(this.wiring.group(role)).call(kind, body, opts);
  }

  /** Calls every live instance of every role (e.g. reopenLog for logrotate); never rejects. */
  async broadcast<K extends keyof BuiltinProtocol>(kind: K, body: Req<BuiltinProtocol, K>, opts?: { timeoutMs?: number }): Promise<Array<{ role: string; instance: number; ok: boolean; error?: string }>> {
    const targets = this.slots.filter((s) => !s.removed && s.current && s.current.state !== 'exited');
    return Promise.all(
      targets.map((s) =>
        this.wiring.group(s.role)
          .call(kind, body, { instance: s.instance, timeoutMs: opts?.timeoutMs ?? 10_000 })
          .then(
            () => ({ role: s.role, instance: s.instance, ok: true }),
            (err: Error) => ({ role: s.role, instance: s.instance, ok: false, error: err.message }),
          ),
      ),
    );
  }

  /** Breaks an actor on purpose (tests); refused unless debug_fault_injection = yes. */
  fault(role: string, instance: number, kind: string): void {
    if (!this.faultInjection()) throw new SupervisorError('ERR_FAULT_DISABLED', 'fault injection is disabled (debug_fault_injection = no)');
    if (!FAULT_KINDS.includes(kind as FaultKind)) throw new SupervisorError('ERR_BAD_REQUEST', `fault: unknown kind ${kind} (throw, exit, oom, hang)`);
    const slot = this.slots.find((s) => !s.removed && s.role === role && s.instance === instance);
    const inc = slot?.current;
    if (!inc || inc.state === 'exited') throw new SupervisorError('ERR_NO_SUCH_ACTOR', `fault: no live actor ${role}[${instance}]`);
    this.log.warning(`injecting fault ${kind} into ${role}[${instance}]`);
    postTo(inc, { ctl: 'fault', kind: kind as FaultKind }, this.log);
  }

  // ---- slots and workers ----

  /** Every actor instance a configuration asks for, on this Node. */
  private plan(config: SupervisorConfig): Plan {
    return planSlots(config, this.opts.registry, this.cores, { reusePort: this.reusePort.supported, shards: this.shards });
  }

  /** One line for every inet service that runs one thread instead of its maxproc (no reusePort here). */
  private warnNarrowed(plan: Plan): void {
    if (plan.narrowed.length === 0) return;
    const list = plan.narrowed.map((n) => `${n.service.name} (maxproc ${n.wanted})`).join(', ');
    this.log.warning(`${this.reusePort.reason ?? 'no listen option reusePort'}: one smtpd thread for each inet service: ${list}`);
  }

  /**
   * Listener threads that share an address take it with reusePort, which
   * another program holding the port with reusePort too would not stop: one
   * exclusive bind first, so such a port fails the start as it would with a
   * single thread.
   */
  private async probeSharedListeners(plan: Plan): Promise<void> {
    if (!this.reusePort.supported) return;
    const seen = new Set<string>();
    for (const p of plan.slots) {
      const spec = this.registry.get(p.role);
      if (p.service?.type !== 'inet' || !spec?.reusePort || !spec.listenAddress) continue;
      let address;
      try {
        address = spec.listenAddress(p.service, this.config.params);
      } catch {
        continue; // the listener itself reports a bad address
      }
      const key = `${address.host ?? ''}|${address.port}`;
      if (seen.has(key)) continue;
      seen.add(key);
      try {
        await probeListen(address);
      } catch (err) {
        throw new SupervisorError('ERR_SETUP_FAILED', `${p.service.file}, line ${p.service.line}: service ${p.service.name}: ${oneLine(err as Error)}`);
      }
    }
  }

  /** Each transport and its agent instances now (qmgr's lanes): the slots that serve its service, started or not. */
  private transportInstances(): Record<string, number[]> {
    const out: Record<string, number[]> = {};
    for (const name of transportsOf(this.config, this.opts.registry)) out[name] = [];
    for (const slot of this.slots) {
      if (slot.removed) continue;
      for (const s of [slot.service, ...(slot.also ?? [])]) {
        const list = s?.type === 'unix' ? out[s.name] : undefined;
        if (list && !list.includes(slot.instance)) list.push(slot.instance);
      }
    }
    for (const list of Object.values(out)) list.sort((x, y) => x - y);
    return out;
  }

  private addSlot(p: SlotPlan): Slot {
    const spec = this.registry.get(p.role)!;
    const used = new Set(this.slots.filter((s) => s.role === p.role && !s.removed).map((s) => s.instance));
    let instance = 1;
    while (used.has(instance)) instance++;
    const slot: Slot = { key: p.key, role: p.role, spec, instance, service: p.service, also: p.also, restarts: 0, firstReady: deferred(), removed: false };
    this.slots.push(slot);
    return slot;
  }

  private assignment(slot: Slot, uid: number, idSalt: number): ActorAssignment {
    const a: ActorAssignment = {
      role: slot.role,
      instance: slot.instance,
      uid,
      idSalt,
      params: this.config.params,
      dir: this.config.dir,
      service: slot.service,
      transports: this.transportInstances(),
      inline: inlineOverridesOf(this.config, this.opts.inlinePrograms ?? inlineRoles()),
      faultInjection: this.faultInjection(),
    };
    const budget = slot.service?.type === 'inet' ? this.fdBudget() : undefined;
    if (budget) a.sessionCapFromFdLimit = budget.sessionCap;
    if (slot.service?.type === 'inet' && slot.spec.reusePort) {
      const shared = this.reusePort.supported;
      a.listener = { threads: shared ? listenerThreads(slot.service, this.cores) : 1, reusePort: shared };
    }
    if (slot.spec.onDemand) a.maxIdleMs = maxIdleMs(this.main);
    if (slot.spec.sharded) {
      a.shard = { index: slot.instance - 1, count: this.shards };
      if (this.limitTable) a.shard.limits = this.limitTable;
    }
    return a;
  }

  /** The division of the open-file limit for the configuration in use (fd-budget.ts); undefined when the limit is unknown. */
  private fdBudget(): FdBudget | undefined {
    if (this.fdLimit === undefined) return undefined;
    if (this.budgetFor?.config !== this.config) {
      this.budgetFor = { config: this.config, budget: configFdBudget(this.fdLimit, this.mainFds, this.config, this.opts.registry, this.cores, { reusePort: this.reusePort.supported }) };
    }
    return this.budgetFor.budget;
  }

  private logFdBudget(): void {
    const b = this.fdBudget();
    if (b?.tooLow) this.log.warning(describeFdBudget(b));
    else if (b) this.log.info(describeFdBudget(b));
  }

  private spawn(spec: RoleSpec, makeData: (uid: number) => ActorWorkerData): Incarnation {
    const uid = this.nextUid++;
    const inc = spawnWorker(spec, uid, makeData(uid), this.workerEvents, this.log);
    this.incarnations.set(inc.uid, inc);
    return inc;
  }

  private makeSpare(spec: RoleSpec): void {
    if (this.spares.has(spec.role) || this.stopping) return;
    const inc = this.spawn(spec, () => ({ spare: true, role: spec.role }));
    this.spares.set(spec.role, inc);
  }

  /**
   * Starts an incarnation for the slot (from the warm spare when there is
   * one) and wires it. It gets a queue-id salt of its own: the incarnation
   * it replaces may still be draining with its salt.
   */
  private launch(slot: Slot): Incarnation {
    const idSalt = this.salts.take();
    let inc = this.spares.get(slot.role);
    if (inc && inc.state === 'spare') {
      this.spares.delete(slot.role);
      inc.slot = slot;
      inc.state = 'starting';
      inc.startedAt = Date.now();
      inc.idSalt = idSalt;
      postTo(inc, { ctl: 'activate', assignment: this.assignment(slot, inc.uid, idSalt) }, this.log);
      // keep a warm one for the next crash, once this one serves
      const spec = slot.spec;
      void inc.ready.promise.then(() => this.makeSpare(spec), () => undefined);
    } else {
      try {
        inc = this.spawn(slot.spec, (uid) => ({ spare: false, assignment: this.assignment(slot, uid, idSalt) }));
      } catch (err) {
        // No thread, no exit to give the salt back at.
        this.salts.release(idSalt);
        throw err;
      }
      inc.slot = slot;
      inc.idSalt = idSalt;
    }
    slot.current = inc;
    slot.cold = false;
    this.wiring.wire(inc);
    return inc;
  }

  /**
   * A peer's call found no instance of a role or a service: the slots that
   * wait on demand for it start now (Postfix's master starts a service when
   * a client connects to it). The caller waits for the wiring.
   */
  private onDemand(msg: { role?: string; service?: string }): void {
    if (this.stopping) return;
    for (const slot of this.slots) {
      if (slot.removed || !slot.cold) continue;
      const serves = msg.service !== undefined
        ? slot.service?.name === msg.service || (slot.also ?? []).some((s) => s.name === msg.service)
        : slot.role === msg.role;
      if (!serves) continue;
      try {
        this.launch(slot);
      } catch (err) {
        slot.cold = true;
        this.log.warning(`cannot start ${slot.role}[${slot.instance}] on demand: ${oneLine(err as Error)}`);
      }
    }
  }

  /**
   * An on-demand agent had no work for max_idle: it stops taking work and
   * ends, and the slot waits for the next demand. A request already on its
   * way gets a moment to arrive first (IDLE_GRACE_MS); one that still
   * races the end fails in its caller, which retries as after any crash.
   */
  private onIdle(inc: Incarnation): void {
    const slot = inc.slot;
    if (!slot || !slot.spec.onDemand || slot.removed || slot.current !== inc) return;
    if (inc.state !== 'running' || inc.retiring || this.stopping || this.reloading) return;
    slot.cold = true;
    inc.expectedExit = true;
    inc.retiring = true;
    this.wiring.announceRetire(inc);
    this.background(
      (async () => {
        await new Promise((r) => setTimeout(r, IDLE_GRACE_MS));
        await drainWorker(inc, this.drainTimeoutMs, this.log);
        await shutdownWorker(inc, this.shutdownTimeoutMs, this.log);
      })(),
    );
  }

  private beat(): void {
    const now = Date.now();
    for (const inc of this.incarnations.values()) {
      if (inc.state !== 'running' && inc.state !== 'draining') continue;
      if (inc.hung || !this.watchdog.check(inc, now)) continue;
      inc.sentPings++;
      postTo(inc, { ctl: 'ping', seq: inc.sentPings }, this.log);
    }
  }

  private onExit(inc: Incarnation, code: number): void {
    const wasReady = inc.state === 'running' || inc.state === 'draining';
    inc.state = 'exited';
    this.incarnations.delete(inc.uid);
    // The thread can make no more ids: its salt may go to a later incarnation.
    if (inc.idSalt !== undefined) this.salts.release(inc.idSalt);
    inc.exited.resolve(code);
    const slot = inc.slot;
    if (!slot) {
      // a spare that died before it was used
      for (const [role, s] of this.spares) if (s === inc) this.spares.delete(role);
      if (!inc.expectedExit) this.log.warning(`spare worker pid ${inc.threadId} exit status ${code}${inc.error ? ` (${oneLine(inc.error)})` : ''}`);
      return;
    }
    const reason = exitReason(inc);
    this.wiring.unwire(inc, reason);
    if (inc.trial) {
      // started by a reload and never ready: the reload fails and keeps the old, no restart
      inc.ready.reject(new SupervisorError('ERR_SETUP_FAILED', `${slot.role}[${slot.instance}] exited before it was ready${reason ? ` (${reason})` : ''}`));
      return;
    }
    if (inc.expectedExit || this.stopping) return;
    this.log.warning(`process ${slot.role} pid ${inc.threadId} exit status ${code}${reason ? ` (${reason})` : ''}`);
    inc.ready.reject(new SupervisorError('ERR_NOT_READY', `${slot.role}[${slot.instance}] exited`));
    if (slot.current !== inc || slot.removed) return;
    const crashedAt = Date.now();
    const decision = this.restartPolicy.decide(slot, `${slot.role}[${slot.instance}]`, crashedAt, this.started, wasReady);
    if (decision.kind === 'fatal') {
      this.log.fatal(decision.reason);
      flushLog();
      this.emit('fatal', decision.reason);
      if (!this.stopping) {
        this.emit('stopping');
        this.stopping = this.halt().then(() => this.finish(1));
      }
      return;
    }
    if (decision.kind === 'now') {
      this.restart(slot, crashedAt);
      return;
    }
    this.log.warning(`${decision.reason}; restarting ${slot.role}[${slot.instance}] in ${decision.delayMs / 1000} s`);
    this.emit('throttle', { role: slot.role, instance: slot.instance, delayMs: decision.delayMs, reason: decision.reason });
    const timer = setTimeout(() => {
      this.throttled.delete(timer);
      // A reload may have given the slot a new incarnation meanwhile.
      if (this.stopping || slot.removed || slot.current !== inc) return;
      this.restart(slot, crashedAt);
    }, decision.delayMs);
    this.throttled.add(timer);
  }

  private restart(slot: Slot, crashedAt: number): void {
    slot.restarts++;
    const spare = this.spares.get(slot.role)?.state === 'spare';
    const inc = this.launch(slot);
    void inc.ready.promise.then(
      () => {
        const ms = Date.now() - crashedAt;
        this.log.info(`${slot.role}[${slot.instance}] restarted in ${ms} ms${spare ? ' from a warm spare' : ''}`);
        this.emit('restart', { role: slot.role, instance: slot.instance, ms, spare });
      },
      () => undefined,
    );
  }

  private async waitReady(slots: Slot[]): Promise<void> {
    const timeoutMs = this.opts.readyTimeoutMs ?? 30_000;
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const late = slots.filter((s) => !s.firstReady.settled).map((s) => `${s.role}[${s.instance}]`);
        reject(new SupervisorError('ERR_NOT_READY', `not ready after ${timeoutMs} ms: ${late.join(', ')}`));
      }, timeoutMs);
    });
    try {
      await Promise.race([Promise.all(slots.map((s) => s.firstReady.promise)), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  /** Tracks work stop() must wait for (old instances finishing after a reload). */
  private background(p: Promise<void>): void {
    this.retiring.add(p);
    void p.finally(() => this.retiring.delete(p));
  }

  private async gracefulStop(code: number): Promise<void> {
    this.log.info('terminating on signal or stop request');
    const live = (): Incarnation[] => [...this.incarnations.values()].filter((i) => i.slot && i.state !== 'exited' && !i.retiring);
    // Callers drain before the roles they call, so in-flight work can finish.
    const roles = new Set(live().map((i) => i.slot!.role));
    const drained = new Set<string>();
    while (drained.size < roles.size) {
      const pending = [...roles].filter((r) => !drained.has(r));
      let wave = pending.filter((r) => !pending.some((c) => c !== r && this.registry.get(c)!.peers.includes(r)));
      if (wave.length === 0) wave = pending; // a cycle: drain the rest together
      for (const inc of live()) if (wave.includes(inc.slot!.role)) inc.expectedExit = true;
      await Promise.all(live().filter((i) => wave.includes(i.slot!.role)).map((i) => drainWorker(i, this.drainTimeoutMs, this.log)));
      for (const r of wave) drained.add(r);
    }
    await Promise.all(live().map((i) => shutdownWorker(i, this.shutdownTimeoutMs, this.log)));
    await Promise.all([...this.retiring]);
    await this.halt();
    this.finish(code);
  }

  /** Ends everything at once: workers, spares, heartbeat, control socket, pid file. */
  private async halt(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    this.maildrop?.close();
    for (const t of this.throttled) clearTimeout(t);
    this.throttled.clear();
    const all = [...this.incarnations.values()];
    for (const inc of all) inc.expectedExit = true;
    for (const slot of this.slots) if (!slot.firstReady.settled) slot.firstReady.reject(new SupervisorError('ERR_STOPPING', 'stopping'));
    await Promise.all(all.map((inc) => inc.worker.terminate().then(() => inc.exited.promise)));
    this.spares.clear();
    this.wiring.closeAll('stopping');
    await this.control.close();
    if (this.pidPath) releasePidFile(this.pidPath);
  }

  private finish(code: number): void {
    this.log.info(code === 0 ? 'stopped' : `stopped with exit status ${code}`);
    flushLog();
    this.emit('stopped', code);
    this.resolveDone(code);
  }
}

/** max_idle in milliseconds (100 s when unset or malformed; check reports it). */
function maxIdleMs(main: MainConfig): number {
  try {
    return main.get('max_idle') ? main.time('max_idle') * 1000 : 100_000;
  } catch {
    return 100_000;
  }
}

/** supervisor_busy_timeout in milliseconds (60 s when unset or malformed; check reports it). */
function busyTimeoutMs(main: MainConfig): number {
  try {
    return main.get('supervisor_busy_timeout') ? main.time('supervisor_busy_timeout') * 1000 : 60_000;
  } catch {
    return 60_000;
  }
}
