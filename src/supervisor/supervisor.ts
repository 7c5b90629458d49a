/**
 * supervisor: the main thread's tree of actor workers (Postfix's master).
 * Starts one worker per planned instance, wires a MessageChannel between
 * every pair of instances whose roles talk, restarts a crashed instance
 * one-for-one (from a warm spare when the role has one), detects hangs by
 * missed heartbeats, stops the tree when restarts exceed the intensity
 * limit, drains and stops on stop(), replaces every instance on reload(),
 * and serves the control socket. Errors reach callers as SupervisorError or
 * ActorCallError; a worker's crash is logged, never thrown. The shared
 * records and public types are in supervisor-types.ts, the status report in
 * supervisor-status.ts.
 */
import { EventEmitter } from 'node:events';
import { availableParallelism } from 'node:os';
import { MessageChannel, Worker } from 'node:worker_threads';
import { MainConfig } from '../config/main-config.js';
import { Logger, configureLogging, flushLog } from '../util/log.js';
import { ActorCallError } from './actor-error.js';
import { PeerLink, PeerSet, type CallOptions } from './peer.js';
import {
  FAULT_KINDS,
  SUPERVISOR_ROLE,
  type ActorAssignment,
  type ActorWorkerData,
  type FaultKind,
  type FromWorker,
  type ToWorker,
} from './control-messages.js';
import { ControlServer } from './control-server.js';
import type { EventLoopUtilization } from 'node:perf_hooks';
import { registerBuiltinCommands } from './control-commands.js';
import { claimPidFile, pidFilePath, releasePidFile } from './pid-file.js';
import { RestartIntensity } from './restart-policy.js';
import { planSlots, related, type RoleSpec, type SlotPlan, type SupervisorConfig } from './role-registry.js';
import { SupervisorError } from './supervisor-error.js';
import { supervisorStatus } from './supervisor-status.js';
import {
  DEFAULT_LIMITS,
  deferred,
  oneLine,
  type Incarnation,
  type Slot,
  type SupervisorOptions,
  type SupervisorStatus,
} from './supervisor-types.js';

// The public types live with the records they share fields with; importers keep using this module.
export type { ActorStatus, SupervisorOptions, SupervisorStatus } from './supervisor-types.js';

/** The supervisor tree. Events: 'fatal' (reason), 'restart' ({ role, instance, ms, spare }), 'stopped' (exit code). */
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
  private readonly groups = new Map<string, PeerSet>();
  private readonly providers = new Map<string, () => Promise<unknown>>();
  private readonly startHooks: Array<() => Promise<void>> = [];
  private readonly retiring = new Set<Promise<void>>();
  private intensity: RestartIntensity;
  private nextUid = 1;
  private started = false;
  private startedAt = Date.now();
  private heartbeat?: NodeJS.Timeout;
  private stopping?: Promise<void>;
  private pidPath?: string;
  private resolveDone!: (code: number) => void;
  private readonly heartbeatMs: number;
  private readonly missed: number;
  private readonly cores: number;

  constructor(private readonly opts: SupervisorOptions) {
    super();
    this.config = opts.config;
    this.main = new MainConfig(opts.config.params, opts.config.dir);
    this.registry = new Map(opts.registry.map((s) => [s.role, s]));
    this.intensity = RestartIntensity.fromParams(opts.config.params, opts.config.dir);
    this.heartbeatMs = opts.heartbeatMs ?? 1000;
    this.missed = opts.missedHeartbeats ?? 3;
    this.cores = opts.cores ?? availableParallelism();
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
      myhostname: this.main.get('myhostname'),
      syslogName: this.main.get('syslog_name') || 'postrider',
    });
    const queueDir = this.main.path('queue_directory');
    if (!queueDir) throw new SupervisorError('ERR_CONFIG_INVALID', 'queue_directory is not set');
    this.pidPath = pidFilePath(queueDir);
    claimPidFile(this.pidPath);
    this.startedAt = Date.now();
    try {
      if (this.opts.controlSocket !== false) await this.control.listen(queueDir);
      this.heartbeat = setInterval(() => this.beat(), this.heartbeatMs);
      this.heartbeat.unref();
      const plan = planSlots(this.config, this.opts.registry, this.cores);
      const inline = new Set(this.opts.inlinePrograms ?? ['cleanup']);
      for (const s of plan.skipped) if (!inline.has(s.command)) this.log.warning(`${s.file}, line ${s.line}: service ${s.name}: unsupported program ${s.command}; skipped`);
      const slots = plan.slots.map((p) => this.addSlot(p));
      for (const spec of this.registry.values()) if (spec.spare && slots.some((s) => s.role === spec.role)) this.makeSpare(spec);
      for (const slot of slots) this.launch(slot);
      await this.waitReady(slots);
      // Start hooks (the metrics listener) run once every actor serves; one
      // that fails stops the tree like an actor that cannot start.
      for (const hook of this.startHooks) await hook();
      this.started = true;
      this.log.info(`daemon started -- version 0.1.0, configuration ${this.config.dir}`);
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
    if (!this.stopping) this.stopping = this.gracefulStop(0);
    return this.stopping;
  }

  /**
   * Replaces every instance with one running newConfig; services added or
   * removed in master.cf are started or stopped. Refuses (SupervisorError
   * ERR_CONFIG_INVALID, old configuration kept) when newConfig has errors.
   */
  async reload(newConfig: SupervisorConfig): Promise<void> {
    if (this.stopping) throw new SupervisorError('ERR_STOPPING', 'the mail system is stopping');
    const errors = newConfig.problems.filter((p) => p.severity === 'error');
    if (errors.length > 0) {
      const first = errors[0];
      const where = first.line > 0 ? `${first.file}, line ${first.line}` : first.file;
      const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
      throw new SupervisorError('ERR_CONFIG_INVALID', `reload refused: ${where}: ${first.message}${more}`);
    }
    this.config = newConfig;
    this.main = new MainConfig(newConfig.params, newConfig.dir);
    this.intensity = RestartIntensity.fromParams(newConfig.params, newConfig.dir);
    const plan = planSlots(newConfig, this.opts.registry, this.cores);
    const byKey = new Map(this.slots.filter((s) => !s.removed).map((s) => [s.key, s]));
    const keep = new Set(plan.slots.map((p) => p.key));
    const work: Promise<void>[] = [];
    for (const p of plan.slots) {
      const old = byKey.get(p.key);
      if (old) {
        old.service = p.service;
        work.push(this.replace(old));
      } else {
        const slot = this.addSlot(p);
        this.launch(slot);
        work.push(slot.firstReady.promise);
      }
    }
    for (const slot of byKey.values()) {
      if (keep.has(slot.key)) continue;
      slot.removed = true;
      if (slot.current) this.background(this.retire(slot.current));
    }
    for (const spec of this.registry.values()) {
      const spare = this.spares.get(spec.role);
      if (spare) {
        // a spare holds no configuration, but its code may be stale after an upgrade
        this.spares.delete(spec.role);
        spare.expectedExit = true;
        void spare.worker.terminate();
      }
      if (spec.spare && this.slots.some((s) => !s.removed && s.role === spec.role)) this.makeSpare(spec);
    }
    await Promise.all(work);
    this.log.info('reload -- version 0.1.0, configuration ' + newConfig.dir);
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

  /** True when some instance of the role is running now. */
  hasLiveActor(role: string): boolean {
    return this.slots.some((s) => !s.removed && s.role === role && s.current !== undefined && s.current.state === 'running');
  }

  /** Adds a section to status() (e.g. queue counts). */
  addStatusProvider(name: string, fn: () => Promise<unknown>): void {
    this.providers.set(name, fn);
  }

  /** Calls a role from the supervisor, as an actor would (round robin unless opts pick an instance). */
  callActor(role: string, kind: string, body: unknown, opts?: CallOptions): Promise<unknown> {
    if (!this.registry.has(role)) return Promise.reject(new ActorCallError(`${kind}: no role ${role}`, 'ERR_NO_PEER', false));
    return this.group(role).call(kind, body, opts);
  }

  /** Calls every live instance of every role (e.g. reopenLog for logrotate); never rejects. */
  async broadcast(kind: string, body: unknown, opts?: { timeoutMs?: number }): Promise<Array<{ role: string; instance: number; ok: boolean; error?: string }>> {
    const targets = this.slots.filter((s) => !s.removed && s.current && s.current.state !== 'exited');
    return Promise.all(
      targets.map((s) =>
        this.group(s.role)
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
    this.post(inc, { ctl: 'fault', kind: kind as FaultKind });
  }

  // ---- slots and workers ----

  private addSlot(p: SlotPlan): Slot {
    const spec = this.registry.get(p.role)!;
    const used = new Set(this.slots.filter((s) => s.role === p.role && !s.removed).map((s) => s.instance));
    let instance = 1;
    while (used.has(instance)) instance++;
    const slot: Slot = { key: p.key, role: p.role, spec, instance, service: p.service, restarts: 0, firstReady: deferred(), removed: false };
    this.slots.push(slot);
    return slot;
  }

  private group(role: string): PeerSet {
    let g = this.groups.get(role);
    if (!g) {
      g = new PeerSet(role, (t) => this.log.warning(t));
      this.groups.set(role, g);
    }
    return g;
  }

  private assignment(slot: Slot, uid: number): ActorAssignment {
    return {
      role: slot.role,
      instance: slot.instance,
      uid,
      params: this.config.params,
      dir: this.config.dir,
      service: slot.service,
      faultInjection: this.faultInjection(),
    };
  }

  private spawn(spec: RoleSpec, makeData: (uid: number) => ActorWorkerData): Incarnation {
    const uid = this.nextUid++;
    const data = makeData(uid);
    const worker = new Worker(spec.entry, {
      workerData: data,
      resourceLimits: { ...DEFAULT_LIMITS, ...spec.resourceLimits },
    });
    const inc: Incarnation = {
      uid,
      worker,
      threadId: worker.threadId,
      state: data.spare ? 'spare' : 'starting',
      startedAt: Date.now(),
      expectedExit: false,
      hung: false,
      retiring: false,
      sentPings: 0,
      lastPong: 0,
      loaded: deferred(),
      ready: deferred(),
      exited: deferred(),
      waiters: new Map(),
    };
    this.incarnations.set(inc.uid, inc);
    worker.on('message', (msg: FromWorker) => this.fromWorker(inc, msg));
    worker.on('error', (err) => {
      inc.error = err;
    });
    worker.on('messageerror', (err) => this.log.warning(`${this.name(inc)}: unreadable control message: ${err.message}`));
    worker.on('exit', (code) => this.onExit(inc, code));
    return inc;
  }

  private makeSpare(spec: RoleSpec): void {
    if (this.spares.has(spec.role) || this.stopping) return;
    const inc = this.spawn(spec, () => ({ spare: true, role: spec.role }));
    this.spares.set(spec.role, inc);
  }

  /** Starts an incarnation for the slot (from the warm spare when there is one) and wires it. */
  private launch(slot: Slot): Incarnation {
    let inc = this.spares.get(slot.role);
    if (inc && inc.state === 'spare') {
      this.spares.delete(slot.role);
      inc.slot = slot;
      inc.state = 'starting';
      inc.startedAt = Date.now();
      this.post(inc, { ctl: 'activate', assignment: this.assignment(slot, inc.uid) });
      // keep a warm one for the next crash, once this one serves
      const spec = slot.spec;
      void inc.ready.promise.then(() => this.makeSpare(spec), () => undefined);
    } else {
      inc = this.spawn(slot.spec, (uid) => ({ spare: false, assignment: this.assignment(slot, uid) }));
      inc.slot = slot;
    }
    slot.current = inc;
    this.wire(inc);
    return inc;
  }

  /** A channel between the new incarnation and every live related incarnation, and one to the supervisor. */
  private wire(inc: Incarnation): void {
    const slot = inc.slot!;
    for (const other of this.incarnations.values()) {
      const os = other.slot;
      if (!os || other === inc || os.removed || other.state === 'exited' || other.state === 'spare') continue;
      if (!related(slot.spec, os.spec)) continue;
      if (os === slot) continue;
      // A draining actor finishes its sessions through the new peers (an old
      // smtpd's last message goes to the new journal); nothing routes to it.
      const draining = other.state === 'draining' || other.state === 'stopping';
      if (draining && !os.spec.peers.includes(slot.role)) continue;
      const { port1, port2 } = new MessageChannel();
      const wire: ToWorker = { ctl: 'wire', role: os.role, instance: os.instance, uid: other.uid, port: port1 };
      if (draining) wire.inboundOnly = true;
      this.post(inc, wire, [port1]);
      this.post(other, { ctl: 'wire', role: slot.role, instance: slot.instance, uid: inc.uid, port: port2 }, [port2]);
    }
    const { port1, port2 } = new MessageChannel();
    this.post(inc, { ctl: 'wire', role: SUPERVISOR_ROLE, instance: 0, uid: 0, port: port1 }, [port1]);
    const link = new PeerLink(
      port2,
      { role: slot.role, instance: slot.instance, uid: inc.uid },
      (kind) => {
        throw new Error(`the supervisor has no handler for ${kind}`);
      },
      (t) => this.log.warning(t),
    );
    this.group(slot.role).add(link);
  }

  private post(inc: Incarnation, msg: ToWorker, transfer?: import('node:worker_threads').TransferListItem[]): void {
    if (inc.state === 'exited') return;
    try {
      inc.worker.postMessage(msg, transfer);
    } catch (err) {
      this.log.warning(`${this.name(inc)}: cannot post ${msg.ctl}: ${(err as Error).message}`);
    }
  }

  private name(inc: Incarnation): string {
    return inc.slot ? `${inc.slot.role}[${inc.slot.instance}]` : `spare ${inc.threadId}`;
  }

  private fromWorker(inc: Incarnation, msg: FromWorker): void {
    switch (msg?.ctl) {
      case 'pong':
        inc.lastPong = msg.seq;
        break;
      case 'loaded':
        inc.loaded.resolve();
        break;
      case 'ready':
        if (inc.state === 'starting') inc.state = 'running';
        inc.ready.resolve();
        inc.slot?.firstReady.resolve();
        break;
      case 'setupError': {
        const err = new SupervisorError('ERR_SETUP_FAILED', `${this.name(inc)}: set-up failed: ${msg.message}`);
        inc.ready.reject(err);
        // During start() a broken set-up stops the start; later it is a crash like any other.
        if (inc.slot && !this.started) {
          inc.expectedExit = true;
          inc.slot.firstReady.reject(err);
        }
        break;
      }
      case 'draining':
      case 'drained':
      case 'shutdownDone': {
        if (msg.ctl !== 'draining' && msg.error) this.log.warning(`${this.name(inc)}: ${msg.ctl}: ${msg.error}`);
        const list = inc.waiters.get(msg.ctl) ?? [];
        inc.waiters.delete(msg.ctl);
        for (const w of list) w();
        break;
      }
    }
  }

  /** Resolves on the worker's message `what`, its exit, or the timeout (returns false then). */
  private waitFor(inc: Incarnation, what: string, timeoutMs: number): Promise<boolean> {
    if (inc.state === 'exited') return Promise.resolve(true);
    return new Promise((resolve) => {
      const timer = setTimeout(() => resolve(false), timeoutMs);
      const done = (): void => {
        clearTimeout(timer);
        resolve(true);
      };
      const list = inc.waiters.get(what) ?? [];
      list.push(done);
      inc.waiters.set(what, list);
      void inc.exited.promise.then(done);
    });
  }

  private beat(): void {
    for (const inc of this.incarnations.values()) {
      if (inc.state !== 'running' && inc.state !== 'draining') continue;
      if (inc.sentPings - inc.lastPong >= this.missed && !inc.hung) {
        inc.hung = true;
        this.log.warning(`process ${inc.slot?.role} pid ${inc.threadId}: not responding (${this.missed} heartbeats missed); killed`);
        void inc.worker.terminate();
        continue;
      }
      inc.sentPings++;
      this.post(inc, { ctl: 'ping', seq: inc.sentPings });
    }
  }

  private onExit(inc: Incarnation, code: number): void {
    inc.state = 'exited';
    this.incarnations.delete(inc.uid);
    inc.exited.resolve(code);
    const slot = inc.slot;
    if (!slot) {
      // a spare that died before it was used
      for (const [role, s] of this.spares) if (s === inc) this.spares.delete(role);
      if (!inc.expectedExit) this.log.warning(`spare worker pid ${inc.threadId} exit status ${code}${inc.error ? ` (${oneLine(inc.error)})` : ''}`);
      return;
    }
    const reason = this.exitReason(inc);
    this.unwire(inc, reason);
    if (inc.expectedExit || this.stopping) return;
    this.log.warning(`process ${slot.role} pid ${inc.threadId} exit status ${code}${reason ? ` (${reason})` : ''}`);
    inc.ready.reject(new SupervisorError('ERR_NOT_READY', `${slot.role}[${slot.instance}] exited`));
    if (slot.current !== inc || slot.removed) return;
    this.restart(slot, Date.now());
  }

  private exitReason(inc: Incarnation): string {
    if (inc.hung) return 'not responding, killed';
    const e = inc.error as (Error & { code?: string }) | undefined;
    if (e?.code === 'ERR_WORKER_OUT_OF_MEMORY') return 'out of memory';
    if (e) return `uncaught exception: ${oneLine(e)}`;
    return '';
  }

  /** Tells every peer and the supervisor's own group that this incarnation is gone. */
  private unwire(inc: Incarnation, reason: string): void {
    const slot = inc.slot!;
    this.group(slot.role).down(inc.uid, reason || 'exited');
    for (const other of this.incarnations.values()) {
      if (other.state === 'exited' || other.state === 'spare' || !other.slot) continue;
      if (!related(slot.spec, other.slot.spec)) continue;
      this.post(other, { ctl: 'peerDown', role: slot.role, uid: inc.uid, reason: reason || 'exited' });
    }
  }

  private restart(slot: Slot, crashedAt: number): void {
    slot.restarts++;
    if (this.intensity.record(crashedAt)) {
      const n = this.intensity.count(crashedAt);
      const reason = `restart intensity exceeded: ${n} restarts in ${this.intensity.windowSeconds} s; last: ${slot.role}[${slot.instance}]`;
      this.log.fatal(reason);
      flushLog();
      this.emit('fatal', reason);
      if (!this.stopping) this.stopping = this.halt().then(() => this.finish(1));
      return;
    }
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

  /** Replaces one slot's incarnation with a new one (reload). */
  private async replace(slot: Slot): Promise<void> {
    const old = slot.current;
    const listener = slot.service?.type === 'inet';
    if (old && old.state !== 'exited' && listener) {
      // Node threads cannot share a port: the old listener closes first, keeps its sessions.
      this.background(this.retire(old));
      await this.waitFor(old, 'draining', this.opts.drainTimeoutMs ?? 30_000);
      slot.firstReady = deferred();
      const inc = this.launch(slot);
      await inc.ready.promise;
      return;
    }
    if (old && old.state !== 'exited' && slot.spec.singleton) {
      // A singleton owns state (the journal's writer, qmgr's active queue): two must never overlap.
      await this.retire(old);
      slot.firstReady = deferred();
      await this.launch(slot).ready.promise;
      return;
    }
    slot.firstReady = deferred();
    const inc = this.launch(slot);
    await inc.ready.promise;
    // The old one finishes its work in the background; reload does not wait for it.
    if (old && old.state !== 'exited') this.background(this.retire(old));
  }

  /** Tracks work stop() must wait for (old instances finishing after a reload). */
  private background(p: Promise<void>): void {
    this.retiring.add(p);
    void p.finally(() => this.retiring.delete(p));
  }

  /** Takes an incarnation out of service: no new work, drain, shut down, exit. */
  private async retire(inc: Incarnation): Promise<void> {
    if (inc.state === 'exited') return;
    inc.expectedExit = true;
    inc.retiring = true;
    const slot = inc.slot!;
    this.group(slot.role).retire(inc.uid);
    for (const other of this.incarnations.values()) {
      if (other === inc || !other.slot || other.state === 'exited' || other.state === 'spare') continue;
      if (related(slot.spec, other.slot.spec)) this.post(other, { ctl: 'peerRetire', role: slot.role, uid: inc.uid });
    }
    await this.drain(inc);
    await this.shutdown(inc);
  }

  private async drain(inc: Incarnation): Promise<void> {
    if (inc.state === 'exited') return;
    inc.state = 'draining';
    const drained = this.waitFor(inc, 'drained', this.opts.drainTimeoutMs ?? 30_000);
    this.post(inc, { ctl: 'drain' });
    if (!(await drained)) this.log.warning(`${this.name(inc)}: drain timed out`);
  }

  private async shutdown(inc: Incarnation): Promise<void> {
    if (inc.state === 'exited') return;
    inc.expectedExit = true;
    inc.state = 'stopping';
    const done = this.waitFor(inc, 'shutdownDone', this.opts.shutdownTimeoutMs ?? 5_000);
    this.post(inc, { ctl: 'shutdown' });
    if (!(await done)) this.log.warning(`${this.name(inc)}: shutdown timed out`);
    await inc.worker.terminate();
    await inc.exited.promise;
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
      await Promise.all(live().filter((i) => wave.includes(i.slot!.role)).map((i) => this.drain(i)));
      for (const r of wave) drained.add(r);
    }
    await Promise.all(live().map((i) => this.shutdown(i)));
    await Promise.all([...this.retiring]);
    await this.halt();
    this.finish(code);
  }

  /** Ends everything at once: workers, spares, heartbeat, control socket, pid file. */
  private async halt(): Promise<void> {
    if (this.heartbeat) clearInterval(this.heartbeat);
    this.heartbeat = undefined;
    const all = [...this.incarnations.values()];
    for (const inc of all) inc.expectedExit = true;
    for (const slot of this.slots) if (!slot.firstReady.settled) slot.firstReady.reject(new SupervisorError('ERR_STOPPING', 'stopping'));
    await Promise.all(all.map((inc) => inc.worker.terminate().then(() => inc.exited.promise)));
    this.spares.clear();
    for (const g of this.groups.values()) g.closeAll('stopping');
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
