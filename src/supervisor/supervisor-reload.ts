/**
 * supervisor-reload: replacing the running generation of actors with one
 * that runs a new configuration (Postfix's `postfix reload`), so that a
 * reload that cannot start the new tree leaves the old one serving:
 *
 * 1. check, before anything changes: configuration errors, a changed
 *    queue_directory, and every listener address the running tree does
 *    not hold yet, test-bound (listen-probe.ts);
 * 2. alongside: each replaced instance that owns nothing exclusive, and
 *    each added one, starts next to the old and must become ready; if one
 *    fails, the new ones stop and the old tree was never touched;
 * 3. swap: an instance that owns something, a listener's port or a
 *    singleton's state, stops taking work before its replacement starts
 *    (a listener closes its port and finishes its sessions under the old
 *    settings; a singleton retires completely); if one fails, every
 *    swapped and started instance gets the previous configuration back;
 * 4. commit: old instances retire in the background, removed services
 *    stop, an instance the role keeps (RoleSpec.keepOnReload: the journal)
 *    takes the new configuration in place, warm spares are renewed.
 *
 * An added line that takes over a removed line's listener address, or a
 * singleton role's only instance, replaces it in place (a swap): two
 * writers of one store, or two binds of one port, never overlap.
 *
 * Errors: refuseInvalid and refuseUnreloadable throw SupervisorError
 * ERR_CONFIG_INVALID, planReload the same for a listener address that
 * cannot be read, preflight ERR_RELOAD_FAILED for one that cannot be
 * bound, all before anything changed; reloadSlots rejects ERR_RELOAD_FAILED
 * once the previous configuration is back in place. A drain or shutdown
 * that outlasts its bound is logged, not thrown.
 */
import type { MasterService } from '../config/config-types.js';
import type { InetListen } from '../config/inet-listen.js';
import { MainConfig } from '../config/main-config.js';
import type { Logger } from '../util/log.js';
import { probeListen } from './listen-probe.js';
import type { RoleSpec, SlotPlan, SupervisorConfig } from './role-registry.js';
import { SupervisorError } from './supervisor-error.js';
import { oneLine, type Incarnation, type Slot } from './supervisor-types.js';
import type { Wiring } from './supervisor-wiring.js';
import { drainWorker, shutdownWorker, waitForWorker } from './supervisor-worker.js';

/** What a reload needs from the supervisor. */
export interface ReloadHost {
  readonly registry: ReadonlyMap<string, RoleSpec>;
  readonly slots: readonly Slot[];
  /** role -> its warm spare; reload replaces them. */
  readonly spares: Map<string, Incarnation>;
  readonly wiring: Wiring;
  readonly log: Logger;
  /** The drain deadline of the configuration in use (supervisor_drain_timeout). */
  drainTimeoutMs(): number;
  readonly shutdownTimeoutMs: number;
  /** Makes `config` the one new incarnations get. */
  useConfig(config: SupervisorConfig): void;
  /** Adds a planned slot with the lowest free instance number. */
  addSlot(p: SlotPlan): Slot;
  /** Forgets a slot that a failed reload had added. */
  dropSlot(slot: Slot): void;
  /** Starts an incarnation for the slot (from the warm spare when there is one) and wires it. */
  launch(slot: Slot): Incarnation;
  makeSpare(spec: RoleSpec): void;
  /** Tracks work stop() must wait for (old instances finishing after a reload). */
  background(p: Promise<void>): void;
  /** Hands a kept incarnation the configuration in use; resolves once it has taken it (or the bound passed). */
  reconfigure(inc: Incarnation): Promise<void>;
}

/** What happens to one slot of the new plan. */
interface Step {
  kind: 'keep' | 'alongside' | 'swap';
  plan: SlotPlan;
  /** The running slot this step changes; undefined for a slot the reload adds. */
  slot?: Slot;
  /** The new listener address, when it must be test-bound first. */
  probe?: InetListen;
  /** Set once the step has changed something: what to put back on failure. */
  before?: { service?: MasterService; also?: MasterService[]; current?: Incarnation };
  added?: boolean;
  started?: Incarnation;
}

/** The steps of one reload, and the running slots no line of the new configuration keeps. */
export interface ReloadPlan {
  steps: Step[];
  removed: Slot[];
}

/** Throws ERR_CONFIG_INVALID when the new configuration has errors (the old one stays). */
export function refuseInvalid(newConfig: SupervisorConfig): void {
  const errors = newConfig.problems.filter((p) => p.severity === 'error');
  if (errors.length > 0) {
    const first = errors[0];
    const where = first.line > 0 ? `${first.file}, line ${first.line}` : first.file;
    const more = errors.length > 1 ? ` (and ${errors.length - 1} more)` : '';
    throw new SupervisorError('ERR_CONFIG_INVALID', `reload refused: ${where}: ${first.message}${more}`);
  }
}

/** Throws ERR_CONFIG_INVALID for a change a reload cannot make: the queue (and the pid file and control socket in it) cannot move under a running daemon. */
export function refuseUnreloadable(old: SupervisorConfig, next: SupervisorConfig): void {
  const queue = (c: SupervisorConfig): string => new MainConfig(c.params, c.dir).path('queue_directory');
  if (queue(old) !== queue(next)) {
    throw new SupervisorError('ERR_CONFIG_INVALID', `reload refused: queue_directory changed (${queue(old)} to ${queue(next)}); stop and start the mail system to move the queue`);
  }
}

/** Decides, for every slot of the new plan, whether it is kept, started alongside or swapped. */
export function planReload(host: ReloadHost, old: SupervisorConfig, next: SupervisorConfig, plan: SlotPlan[]): ReloadPlan {
  const live = host.slots.filter((s) => !s.removed);
  const byKey = new Map(live.map((s) => [s.key, s]));
  const planned = new Set(plan.map((p) => p.key));
  const removed = live.filter((s) => !planned.has(s.key));
  const steps: Step[] = [];
  // Addresses the running tree listens on: a thread added to a service that shares its address (reusePort) binds it next to the others, no probe.
  const held = live.map((s) => listenerAddress(s.spec, s.service, old)).filter((a): a is InetListen => a !== undefined);
  const holds = (a: InetListen | undefined): boolean => held.some((h) => sameAddress(h, a));
  for (const p of plan) {
    const spec = host.registry.get(p.role)!;
    const bind = listenerAddress(spec, p.service, next);
    let slot = byKey.get(p.key);
    if (!slot) {
      const i = removed.findIndex((r) => r.role === p.role && (spec.singleton || (bind !== undefined && sameAddress(listenerAddress(r.spec, r.service, old), bind))));
      if (i >= 0) slot = removed.splice(i, 1)[0];
    }
    if (!slot) {
      steps.push({ kind: 'alongside', plan: p, probe: spec.reusePort && holds(bind) ? undefined : bind });
      continue;
    }
    const before = listenerAddress(slot.spec, slot.service, old);
    const probe = bind !== undefined && !sameAddress(before, bind) ? bind : undefined;
    const kind = spec.keepOnReload ? 'keep' : p.service?.type === 'inet' || spec.singleton ? 'swap' : 'alongside';
    steps.push({ kind, plan: p, slot, probe });
  }
  return { steps, removed };
}

/** Test-binds every listener address the running tree does not hold; throws ERR_RELOAD_FAILED naming the line and the reason. */
export async function preflight(rp: ReloadPlan): Promise<void> {
  for (const step of rp.steps) {
    if (!step.probe) continue;
    try {
      await probeListen(step.probe);
    } catch (err) {
      throw new SupervisorError('ERR_RELOAD_FAILED', `reload refused: ${whereOf(step.plan.service)}service ${step.plan.service?.name}: ${oneLine(err as Error)}; the running configuration is kept`);
    }
  }
}

/**
 * Brings the tree in line with the new configuration (steps 2 to 4 above).
 * Resolves once every new incarnation is ready; on failure puts `old`
 * back and rejects ERR_RELOAD_FAILED with the first reason.
 */
export async function reloadSlots(host: ReloadHost, old: SupervisorConfig, next: SupervisorConfig, rp: ReloadPlan): Promise<void> {
  host.useConfig(next);
  const alongside = rp.steps.filter((s) => s.kind === 'alongside');
  const swaps = rp.steps.filter((s) => s.kind === 'swap');
  const t0 = Date.now();
  let failure = await firstFailure(alongside.map((s) => startAlongside(host, s)));
  const t1 = Date.now();
  if (!failure) failure = await firstFailure(swaps.map((s) => swap(host, s)));
  if (!failure) host.log.info(`reload: ${alongside.length} instances started alongside in ${t1 - t0} ms, ${swaps.length} swapped in ${Date.now() - t1} ms`);
  if (failure) {
    host.log.warning(`reload failed: ${failure}; restoring the previous configuration`);
    await rollBack(host, old, rp);
    throw new SupervisorError('ERR_RELOAD_FAILED', `reload failed: ${failure}; the running configuration is kept`);
  }
  await commit(host, rp);
}

/** Waits for every step; the first failure's one-line reason, or undefined. */
async function firstFailure(work: Promise<void>[]): Promise<string | undefined> {
  const results = await Promise.allSettled(work);
  const failed = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  return failed ? oneLine(failed.reason as Error) : undefined;
}

/** Starts the new incarnation next to the old one (or a new slot). */
async function startAlongside(host: ReloadHost, step: Step): Promise<void> {
  let slot = step.slot;
  if (slot) {
    step.before = { service: slot.service, also: slot.also, current: slot.current };
    slot.service = step.plan.service;
    slot.also = step.plan.also;
  } else {
    slot = host.addSlot(step.plan);
    step.slot = slot;
    step.added = true;
  }
  // An on-demand slot that serves nothing now stays so: the next demand starts it under the new configuration.
  if (slot.spec.onDemand && (step.added || slot.cold)) {
    slot.cold = true;
    return;
  }
  await startTrial(host, step, slot);
}

/** Takes the old incarnation out of service, then starts its replacement. */
async function swap(host: ReloadHost, step: Step): Promise<void> {
  const slot = step.slot!;
  const old = slot.current;
  step.before = { service: slot.service, also: slot.also, current: old };
  if (old && old.state !== 'exited') await release(host, old, slot.service);
  slot.service = step.plan.service;
  slot.also = step.plan.also;
  await startTrial(host, step, slot);
}

async function startTrial(host: ReloadHost, step: Step, slot: Slot): Promise<void> {
  const inc = host.launch(slot);
  inc.trial = true;
  step.started = inc;
  await inc.ready.promise;
}

/**
 * Makes an incarnation give up what its replacement needs: a listener
 * closes its port (and finishes its sessions in the background), anything
 * else retires completely.
 */
async function release(host: ReloadHost, inc: Incarnation, service: MasterService | undefined): Promise<void> {
  if (service?.type === 'inet') {
    host.background(retire(host, inc));
    await waitForWorker(inc, 'draining', host.drainTimeoutMs());
  } else {
    await retire(host, inc);
  }
}

/** Puts the previous configuration back on every slot the reload changed. */
async function rollBack(host: ReloadHost, old: SupervisorConfig, rp: ReloadPlan): Promise<void> {
  host.useConfig(old);
  const work: Promise<void>[] = [];
  for (const step of rp.steps) {
    const slot = step.slot;
    if (!slot || (!step.before && !step.added)) continue;
    if (step.kind === 'alongside') {
      // The old incarnation never stopped serving: end the new one and point the slot back.
      if (step.started && step.started.state !== 'exited') {
        step.started.expectedExit = true;
        // Waited for, so no call is routed to it once the reload has failed.
        work.push(step.started.worker.terminate().then(() => undefined, () => undefined));
      }
      if (step.added) host.dropSlot(slot);
      else {
        slot.service = step.before!.service;
        slot.also = step.before!.also;
        slot.current = step.before!.current;
      }
      continue;
    }
    work.push(restore(host, step, slot));
  }
  await Promise.all(work);
}

/** A swapped slot: its new incarnation gives way to one running the previous configuration. */
async function restore(host: ReloadHost, step: Step, slot: Slot): Promise<void> {
  const inc = step.started;
  if (inc && inc.state !== 'exited') {
    if (inc.state === 'running') {
      await release(host, inc, slot.service);
    } else {
      inc.expectedExit = true;
      await inc.worker.terminate();
      await inc.exited.promise;
    }
  }
  slot.service = step.before!.service;
  slot.also = step.before!.also;
  const back = host.launch(slot);
  // Not on trial: if the previous configuration cannot start either, that is a crash for the restart policy.
  await back.ready.promise.catch(() => undefined);
}

/** The new tree serves: old incarnations retire, removed slots stop, kept ones take the new configuration, spares are renewed. */
async function commit(host: ReloadHost, rp: ReloadPlan): Promise<void> {
  const kept: Promise<void>[] = [];
  for (const step of rp.steps) {
    const slot = step.slot!;
    slot.key = step.plan.key;
    slot.service = step.plan.service;
    slot.also = step.plan.also;
    const previous = step.before?.current;
    // An agent already ending after max_idle finishes on its own.
    if (step.kind === 'alongside' && previous && previous.state !== 'exited' && !previous.retiring) host.background(retire(host, previous));
    if (step.kind === 'keep' && slot.current && slot.current.state !== 'exited') kept.push(host.reconfigure(slot.current));
  }
  for (const slot of rp.removed) {
    slot.removed = true;
    if (slot.current && !slot.current.retiring) host.background(retire(host, slot.current));
  }
  for (const spec of host.registry.values()) {
    const spare = host.spares.get(spec.role);
    if (spare) {
      // a spare holds no configuration, but its code may be stale after an upgrade
      host.spares.delete(spec.role);
      spare.expectedExit = true;
      void spare.worker.terminate();
    }
    if (spec.spare && host.slots.some((s) => !s.removed && s.role === spec.role)) host.makeSpare(spec);
  }
  await Promise.all(kept);
}

/** Takes an incarnation out of service: no new work, drain, shut down, exit. */
async function retire(host: ReloadHost, inc: Incarnation): Promise<void> {
  if (inc.state === 'exited') return;
  inc.expectedExit = true;
  inc.retiring = true;
  host.wiring.announceRetire(inc);
  await drainWorker(inc, host.drainTimeoutMs(), host.log);
  await shutdownWorker(inc, host.shutdownTimeoutMs, host.log);
}

/** Where a listener of this role binds under `config`; undefined for a service that listens on nothing we can name. */
function listenerAddress(spec: RoleSpec, service: MasterService | undefined, config: SupervisorConfig): InetListen | undefined {
  if (service?.type !== 'inet' || !spec.listenAddress) return undefined;
  try {
    return spec.listenAddress(service, config.params);
  } catch (err) {
    throw new SupervisorError('ERR_CONFIG_INVALID', `reload refused: ${whereOf(service)}${oneLine(err as Error)}`);
  }
}

function sameAddress(a: InetListen | undefined, b: InetListen | undefined): boolean {
  return a !== undefined && b !== undefined && a.port === b.port && (a.host ?? '') === (b.host ?? '');
}

function whereOf(service: MasterService | undefined): string {
  return service ? `${service.file}, line ${service.line}: ` : '';
}
