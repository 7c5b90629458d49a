/**
 * roles: the registry of Postrider's real roles. Each entry names its
 * compiled actor file (../actors/ROLE/ROLE-actor.js) and the roles it calls;
 * defaultRegistry() keeps only the roles whose entry file exists in this
 * build, so a role appears as soon as its actor is written.
 */
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { parseInetListen } from '../config/inet-listen.js';
import { splitList } from '../config/main-config.js';
import type { RoleSpec } from './role-registry.js';

const entry = (role: string): URL => new URL(`../actors/${role}/${role}-actor.js`, import.meta.url);

/** Delivery agents qmgr hands recipients to. */
const AGENTS = ['smtp', 'virtual', 'discard', 'error'];

const ROLES: RoleSpec[] = [
  // the one writer of the queue store; runs without a master.cf line; a reload
  // keeps it (replacing it would replay the whole queue while appends wait)
  { role: 'journal', entry: entry('journal'), peers: ['qmgr', 'bounce'], defaultInstances: () => 1, always: true, singleton: true, spare: true, keepOnReload: true },
  {
    role: 'smtpd',
    entry: entry('smtpd'),
    peers: ['journal', 'trivial-rewrite'],
    defaultInstances: () => 1,
    spare: true,
    listenAddress: (service, params) => parseInetListen(service.name, splitList({ ...params, ...service.overrides }.inet_interfaces ?? 'all')),
  },
  { role: 'pickup', entry: entry('pickup'), peers: ['journal', 'trivial-rewrite'], defaultInstances: () => 1, singleton: true },
  {
    role: 'qmgr',
    entry: entry('qmgr'),
    peers: ['journal', 'trivial-rewrite', 'bounce', ...AGENTS],
    defaultInstances: () => 1,
    singleton: true,
    spare: true,
  },
  { role: 'trivial-rewrite', entry: entry('trivial-rewrite'), peers: [], defaultInstances: () => 1 },
  { role: 'bounce', entry: entry('bounce'), peers: ['journal', 'trivial-rewrite'], defaultInstances: () => 1 },
  // one thread drives many SMTP sessions at once (it waits on the network), so
  // a thread per core is enough; more only add start-up time and memory
  { role: 'smtp', entry: entry('smtp'), peers: [], defaultInstances: (cores) => Math.max(2, cores) },
  { role: 'virtual', entry: entry('virtual'), peers: [], defaultInstances: () => 1 },
  { role: 'discard', entry: entry('discard'), peers: [], defaultInstances: () => 1 },
  { role: 'error', entry: entry('error'), peers: [], defaultInstances: () => 1 },
];

/** Every role whose compiled actor exists. */
export function defaultRegistry(): RoleSpec[] {
  return ROLES.filter((r) => existsSync(fileURLToPath(r.entry)));
}
