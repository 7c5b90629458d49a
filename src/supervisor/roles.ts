/**
 * roles: the supervisor's registry of Postrider's real roles, made from the
 * role catalogue. Each started role gets its compiled actor file and its
 * peers (the roles it calls or notifies; qmgr also every delivery agent);
 * inline roles start nothing. defaultRegistry() keeps only the roles whose
 * entry file exists in this build, so a role appears as soon as its actor is
 * written.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseInetListen } from '../config/inet-listen.js';
import { splitList } from '../config/main-config.js';
import { deliveryRoles, ROLE_NAMES, roleEntry, type RoleName } from '../protocol/role-catalogue.js';
import type { RoleSpec } from './role-registry.js';

/** The compiled source root (dist/src), which catalogue entry files are relative to. */
const SRC_ROOT = new URL('../', import.meta.url);

/**
 * The young generation of a rarely busy role's thread (V8 sizes it from
 * three semi-spaces: 3 MiB is 1 MiB semi-spaces). Loading its modules at
 * start grows a default young generation to several MiB, which an idle
 * isolate keeps; measured with perf/ops/idle-footprint.
 */
export const RARELY_BUSY_YOUNG_GENERATION_MB = 3;

/**
 * Instances of an 'cores' role's unix service with maxproc "-": one per two
 * cores, at least one. A delivery thread spends most of a delivery waiting
 * on the network and drives many sessions at once; at about 0.3 CPU-ms per
 * message one thread keeps up with more than two cores of smtpd, and each
 * thread costs an isolate while the service waits (two services of the
 * shipped master.cf, smtp and relay, at one per core took four).
 */
export function perTwoCores(cores: number): number {
  return Math.max(1, Math.ceil(cores / 2));
}

/** The RoleSpec of one catalogue role that the supervisor starts. */
export function roleSpec(role: RoleName): RoleSpec | undefined {
  const e = roleEntry(role);
  if (e.kind === 'inline' || !e.entry) return undefined;
  const spec: RoleSpec = {
    role,
    kind: e.kind === 'delivery' ? 'delivery' : 'daemon',
    entry: new URL(e.entry, SRC_ROOT),
    peers: [...e.calls, ...(e.callsTransports ? deliveryRoles() : [])],
    defaultInstances: e.instances === 'cores' ? perTwoCores : () => 1,
  };
  if (e.notifies) spec.notifies = [...e.notifies];
  if (e.spare) spec.spare = true;
  if (e.always) spec.always = true;
  if (e.singleton) spec.singleton = true;
  if (e.sharded) spec.sharded = true;
  if (e.keepOnReload) spec.keepOnReload = true;
  if (e.onDemand) spec.onDemand = true;
  if (e.rarelyBusy) spec.resourceLimits = { maxYoungGenerationSizeMb: RARELY_BUSY_YOUNG_GENERATION_MB };
  // A listener's inet service names the address it binds (reload compares them).
  if (e.listens) spec.reusePort = true;
  if (e.listens) spec.listenAddress = (service, params) => parseInetListen(service.name, splitList({ ...params, ...service.overrides }.inet_interfaces ?? 'all'));
  return spec;
}

/** Every started role whose compiled actor exists. */
export function defaultRegistry(): RoleSpec[] {
  const out: RoleSpec[] = [];
  for (const role of ROLE_NAMES) {
    const spec = roleSpec(role);
    if (spec && existsSync(fileURLToPath(spec.entry))) out.push(spec);
  }
  return out;
}
