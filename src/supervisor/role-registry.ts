/**
 * role-registry: which roles exist (RoleSpec) and which actor instances a
 * configuration asks for (planSlots). A master.cf service's command names
 * its role; an inet service is one listener instance; a unix service gives
 * maxproc instances (null: the role's default for the cores); an `always`
 * role runs even without a master.cf line. Services naming a program that no
 * role implements, and non-inet/unix types, are returned as skipped.
 */
import type { ResourceLimits } from 'node:worker_threads';
import type { ConfigProblem, MasterService } from '../config/config-types.js';

/** One role the supervisor can start. */
export interface RoleSpec {
  role: string;
  /** The compiled .js entry of the actor (it calls runActor). */
  entry: URL;
  /** Roles this role calls; each pair gets a channel. */
  peers: string[];
  /** Instances for a unix service with maxproc "-" (or an `always` role with no service). */
  defaultInstances: (cores: number) => number;
  /** Keep one pre-started warm worker, so a crash is served again within milliseconds. */
  spare?: boolean;
  /** Started even without a master.cf line (e.g. journal). */
  always?: boolean;
  /** One instance per service line whatever maxproc says; on reload the old one exits before the new one starts (it owns state). */
  singleton?: boolean;
  /**
   * A reload keeps the running instance and hands it the new configuration
   * (ctx.config, onReconfigure) instead of replacing it: the journal, whose
   * replacement would replay the whole queue while appends wait.
   */
  keepOnReload?: boolean;
  /**
   * Where an inet service of this role listens, so a reload can test-bind a
   * new address before it changes anything. Throws on a bad address.
   */
  listenAddress?: (service: MasterService, params: Record<string, string>) => { host?: string; port: number };
  /** Worker limits; maxOldGenerationSizeMb defaults to 512. */
  resourceLimits?: ResourceLimits;
}

/** The configuration the supervisor runs: the shape of load-config's LoadedConfig. */
export interface SupervisorConfig {
  dir: string;
  params: Record<string, string>;
  explicit?: string[];
  master: MasterService[];
  problems: ConfigProblem[];
}

/** One actor instance a configuration asks for. */
export interface SlotPlan {
  /** Stable across reloads while the service line keeps its name, type and program. */
  key: string;
  role: string;
  service?: MasterService;
}

export interface Plan {
  slots: SlotPlan[];
  skipped: MasterService[];
}

/** Works out every actor instance for a configuration. */
export function planSlots(config: SupervisorConfig, registry: RoleSpec[], cores: number): Plan {
  const specs = new Map(registry.map((s) => [s.role, s]));
  const slots: SlotPlan[] = [];
  const skipped: MasterService[] = [];
  const served = new Set<string>();
  for (const service of config.master) {
    const spec = specs.get(service.command);
    if (!spec || (service.type !== 'inet' && service.type !== 'unix')) {
      skipped.push(service);
      continue;
    }
    let count: number;
    if (service.type === 'inet' || spec.singleton) count = 1;
    else count = service.maxproc ?? Math.max(1, spec.defaultInstances(cores));
    served.add(spec.role);
    for (let i = 0; i < count; i++) {
      slots.push({ key: `${spec.role}|${service.type}:${service.name}|${i}`, role: spec.role, service });
    }
  }
  for (const spec of registry) {
    if (!spec.always || served.has(spec.role)) continue;
    const count = spec.singleton ? 1 : Math.max(1, spec.defaultInstances(cores));
    for (let i = 0; i < count; i++) slots.push({ key: `${spec.role}|-|${i}`, role: spec.role });
  }
  return { slots, skipped };
}

/** True when the two roles talk (either lists the other as a peer). */
export function related(a: RoleSpec, b: RoleSpec): boolean {
  return a.peers.includes(b.role) || b.peers.includes(a.role);
}
