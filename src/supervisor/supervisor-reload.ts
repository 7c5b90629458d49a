/**
 * supervisor-reload: replacing the running generation of actors with one
 * that runs a new configuration (Postfix's `postfix reload`). Checks the
 * new main.cf / master.cf for errors first, then matches the new plan's
 * slots to the old: a kept slot gets a new incarnation and its old one is
 * retired (drained, shut down) in the right order for its kind, a new slot
 * is started, a removed one retired; warm spares are replaced too. The
 * supervisor hands in what this needs as a ReloadHost.
 *
 * Errors: refuseInvalid throws SupervisorError ERR_CONFIG_INVALID naming
 * the first error's file and line, before anything changed. reloadSlots
 * rejects when a new incarnation fails to become ready (the slot is then
 * restarted like any crash); a drain or shutdown that outlasts its bound is
 * logged, not thrown.
 */
import type { Logger } from '../util/log.js';
import type { RoleSpec, SlotPlan, SupervisorConfig } from './role-registry.js';
import { SupervisorError } from './supervisor-error.js';
import { deferred, type Incarnation, type Slot } from './supervisor-types.js';
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
  readonly drainTimeoutMs: number;
  readonly shutdownTimeoutMs: number;
  /** Adds a planned slot with the lowest free instance number. */
  addSlot(p: SlotPlan): Slot;
  /** Starts an incarnation for the slot (from the warm spare when there is one) and wires it. */
  launch(slot: Slot): Incarnation;
  makeSpare(spec: RoleSpec): void;
  /** Tracks work stop() must wait for (old instances finishing after a reload). */
  background(p: Promise<void>): void;
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

/**
 * Brings the slots in line with the new plan: every kept slot gets a new
 * incarnation, new slots start, removed ones retire in the background.
 * Resolves once every new incarnation is ready.
 */
export async function reloadSlots(host: ReloadHost, plan: SlotPlan[]): Promise<void> {
  const byKey = new Map(host.slots.filter((s) => !s.removed).map((s) => [s.key, s]));
  const keep = new Set(plan.map((p) => p.key));
  const work: Promise<void>[] = [];
  for (const p of plan) {
    const old = byKey.get(p.key);
    if (old) {
      old.service = p.service;
      work.push(replace(host, old));
    } else {
      const slot = host.addSlot(p);
      host.launch(slot);
      work.push(slot.firstReady.promise);
    }
  }
  for (const slot of byKey.values()) {
    if (keep.has(slot.key)) continue;
    slot.removed = true;
    if (slot.current) host.background(retire(host, slot.current));
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
  await Promise.all(work);
}

/** Replaces one slot's incarnation with a new one (reload). */
async function replace(host: ReloadHost, slot: Slot): Promise<void> {
  const old = slot.current;
  const listener = slot.service?.type === 'inet';
  if (old && old.state !== 'exited' && listener) {
    // Node threads cannot share a port: the old listener closes first, keeps its sessions.
    host.background(retire(host, old));
    await waitForWorker(old, 'draining', host.drainTimeoutMs);
    slot.firstReady = deferred();
    const inc = host.launch(slot);
    await inc.ready.promise;
    return;
  }
  if (old && old.state !== 'exited' && slot.spec.singleton) {
    // A singleton owns state (the journal's writer, qmgr's active queue): two must never overlap.
    await retire(host, old);
    slot.firstReady = deferred();
    await host.launch(slot).ready.promise;
    return;
  }
  slot.firstReady = deferred();
  const inc = host.launch(slot);
  await inc.ready.promise;
  // The old one finishes its work in the background; reload does not wait for it.
  if (old && old.state !== 'exited') host.background(retire(host, old));
}

/** Takes an incarnation out of service: no new work, drain, shut down, exit. */
async function retire(host: ReloadHost, inc: Incarnation): Promise<void> {
  if (inc.state === 'exited') return;
  inc.expectedExit = true;
  inc.retiring = true;
  host.wiring.announceRetire(inc);
  await drainWorker(inc, host.drainTimeoutMs, host.log);
  await shutdownWorker(inc, host.shutdownTimeoutMs, host.log);
}
