/**
 * role-registry: which roles exist (RoleSpec) and which actor instances a
 * configuration asks for (planSlots). A master.cf service's command names
 * its role; an inet service is one listener instance, or maxproc of them
 * (null: one per core) for a role whose threads share the address
 * (RoleSpec.reusePort) when this Node has the listen option reusePort, and
 * one with a note in `narrowed` when it has not; a unix service gives
 * maxproc instances (null: the role's default for the cores); an `always`
 * role runs even without a master.cf line. Services naming a program that no
 * role implements, and non-inet/unix types, are returned as skipped.
 *
 * Unix services of one role that differ in nothing but their name (same
 * maxproc, flags, arguments and -o values: bounce, defer and trace; error
 * and retry) share their instances: each instance serves all of them, and
 * qmgr still routes each transport by its service name. A thread per
 * service line would cost each one a V8 isolate (10-15 MiB) for no
 * difference in behaviour. Services whose settings differ (smtp and relay
 * with their own -o values) keep instances of their own, so every delivery
 * runs with its own service's settings, as in Postfix.
 */
import type { ResourceLimits } from 'node:worker_threads';
import type { ConfigProblem, MasterService } from '../config/config-types.js';
import { reusePortSupport } from './reuse-port.js';
import { queueShardCount } from '../config/queue-shard-count.js';

/** What a role is: a daemon other roles call, or a delivery agent qmgr hands recipients to by transport. */
export type RoleKind = 'daemon' | 'delivery';

/** One role the supervisor can start. */
export interface RoleSpec {
  role: string;
  /** 'delivery': each of its master.cf unix services is a transport (default 'daemon'). */
  kind?: RoleKind;
  /** The compiled .js entry of the actor (it calls runActor). */
  entry: URL;
  /** Roles this role calls; each pair gets a channel, and this role drains before them. */
  peers: string[];
  /** Roles this role only casts to: each pair gets a channel, but draining is not ordered by it. */
  notifies?: string[];
  /** Instances for a unix service with maxproc "-" (or an `always` role with no service). */
  defaultInstances: (cores: number) => number;
  /** Keep one pre-started warm worker, so a crash is served again within milliseconds. */
  spare?: boolean;
  /** Started even without a master.cf line (e.g. journal). */
  always?: boolean;
  /** One instance per service line whatever maxproc says; on reload the old one exits before the new one starts (it owns state). */
  singleton?: boolean;
  /** One instance per queue shard (instance N serves shard N - 1), whatever maxproc says; a singleton of its shard. */
  sharded?: boolean;
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
  /** Its inet service runs maxproc threads (one per core for "-") on the one address, with the listen option reusePort. */
  reusePort?: boolean;
  /** Started when a peer first calls it, ended after max_idle without work (RoleEntry.onDemand). */
  onDemand?: boolean;
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
  /** Further unix services of the role this instance serves too: they differ from `service` in their name alone. */
  also?: MasterService[];
}

export interface Plan {
  slots: SlotPlan[];
  skipped: MasterService[];
  /** Inet services that run one thread instead of `wanted` because this Node has no reusePort. */
  narrowed: Array<{ service: MasterService; wanted: number }>;
}

/** planSlots options. */
export interface PlanOptions {
  /** The listen option reusePort works here (default: reusePortSupport()). */
  reusePort?: boolean;
  /** Queue shards to serve (default: what queue_shard_count asks for). */
  shards?: number;
}

/** Threads of an inet service whose role shares its address: maxproc, or one per core. */
export function listenerThreads(service: MasterService, cores: number): number {
  return service.maxproc ?? Math.max(1, cores);
}

/**
 * Works out every actor instance for a configuration. `opts.shards`: the
 * queue shards to serve (the supervisor adds those found on disk); default
 * what queue_shard_count asks for.
 */
export function planSlots(config: SupervisorConfig, registry: RoleSpec[], cores: number, opts: PlanOptions = {}): Plan {
  const reusePort = opts.reusePort ?? reusePortSupport().supported;
  const narrowed: Plan['narrowed'] = [];
  const shardCount = opts.shards ?? configuredShards(config, cores);
  const specs = new Map(registry.map((s) => [s.role, s]));
  const slots: SlotPlan[] = [];
  const skipped: MasterService[] = [];
  const served = new Set<string>();
  /** The slots of the first unix service with given settings, by role and settings. */
  const sharing = new Map<string, SlotPlan[]>();
  for (const service of config.master) {
    const spec = specs.get(service.command);
    if (!spec || (service.type !== 'inet' && service.type !== 'unix')) {
      skipped.push(service);
      continue;
    }
    let count: number;
    if (spec.sharded && service.type === 'unix') count = shardCount;
    else if (service.type === 'inet' && spec.reusePort && !spec.singleton) {
      const wanted = listenerThreads(service, cores);
      count = reusePort ? wanted : 1;
      if (count < wanted) narrowed.push({ service, wanted });
    } else if (service.type === 'inet' || spec.singleton) count = 1;
    else count = service.maxproc ?? Math.max(1, spec.defaultInstances(cores));
    served.add(spec.role);
    const same = service.type === 'unix' && !spec.singleton ? `${spec.role}\0${count}\0${settingsOf(service)}` : undefined;
    const first = same !== undefined ? sharing.get(same) : undefined;
    if (first) {
      for (const p of first) (p.also ??= []).push(service);
      continue;
    }
    const own: SlotPlan[] = [];
    for (let i = 0; i < count; i++) own.push({ key: `${spec.role}|${service.type}:${service.name}|${i}`, role: spec.role, service });
    if (same !== undefined) sharing.set(same, own);
    slots.push(...own);
  }
  for (const spec of registry) {
    if (!spec.always || served.has(spec.role)) continue;
    const count = spec.sharded ? shardCount : spec.singleton ? 1 : Math.max(1, spec.defaultInstances(cores));
    for (let i = 0; i < count; i++) slots.push({ key: `${spec.role}|-|${i}`, role: spec.role });
  }
  return { slots, skipped, narrowed };
}

/**
 * What a unix service runs with apart from its name: two services with the
 * same text here behave alike. `service_name` is left out: every service
 * has its own, and no role reads it (a -o value built from $service_name is
 * already expanded into the value that differs).
 */
function settingsOf(s: MasterService): string {
  const overrides = Object.entries(s.overrides).filter(([k]) => k !== 'service_name').sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return JSON.stringify([s.private, s.unpriv, s.chroot, s.wakeup, s.args, overrides]);
}

/** The queue shards queue_shard_count asks for (1 when its value is malformed: check reports it). */
export function configuredShards(config: SupervisorConfig, cores: number): number {
  try {
    return queueShardCount(config.params.queue_shard_count, cores);
  } catch {
    return 1;
  }
}

/**
 * The transports a configuration offers: the names of its unix services
 * whose program is a delivery agent, in master.cf order. Postfix's qmgr
 * connects to private/<transport>; here the service name is the transport.
 */
export function transportsOf(config: SupervisorConfig, registry: RoleSpec[]): string[] {
  const delivery = new Set(registry.filter((s) => s.kind === 'delivery').map((s) => s.role));
  const out: string[] = [];
  for (const s of config.master) if (s.type === 'unix' && delivery.has(s.command) && !out.includes(s.name)) out.push(s.name);
  return out;
}

/**
 * The -o values of each inline role's own master.cf line (a unix service
 * named after the role and running it, as Postfix's cleanup_service_name
 * "cleanup"): the inline library applies them where it runs.
 */
export function inlineOverridesOf(config: SupervisorConfig, roles: readonly string[]): Record<string, Record<string, string>> {
  const out: Record<string, Record<string, string>> = {};
  for (const s of config.master) if (s.type === 'unix' && roles.includes(s.command) && s.name === s.command) out[s.command] = s.overrides;
  return out;
}

/** The service name a peer's wire message carries: its unix service (a transport, for a delivery agent). */
export function wiredService(service: MasterService | undefined): string | undefined {
  return service?.type === 'unix' ? service.name : undefined;
}

/** The further unix services a shared instance serves (SlotPlan.also), for its wire messages; undefined when none. */
export function wiredAlso(also: readonly MasterService[] | undefined): string[] | undefined {
  return also && also.length > 0 ? also.map((s) => s.name) : undefined;
}

/** True when the role sends to `role` (calls or notifies it). */
export function talksTo(spec: RoleSpec, role: string): boolean {
  return spec.peers.includes(role) || (spec.notifies?.includes(role) ?? false);
}

/** True when the two roles talk (either calls or notifies the other). */
export function related(a: RoleSpec, b: RoleSpec): boolean {
  return talksTo(a, b.role) || talksTo(b, a.role);
}
