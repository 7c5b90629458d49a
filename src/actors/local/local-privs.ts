/**
 * local-privs: the identity a local delivery runs as, and the processes
 * that run as it. Every mailbox, file and command delivery runs in a child
 * process that runs as the user's uid and gid (a mailbox or file child
 * switches itself first thing, dropping the supplementary groups; a command
 * is spawned with them), never as root: worker threads share the daemon's
 * identity, so a thread cannot switch. A daemon that does not run as root
 * can deliver only as its own user.
 * Public: spawnOptionsFor (throws PrivilegeError), runMailboxChild (never
 * rejects: a failed child is a temporary failure).
 */
import { spawn, type SpawnOptions } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LocalChildJob, LocalChildResult } from './local-child.js';

/** Who a delivery runs as. */
export interface Privileges {
  user: string;
  uid: number;
  gid: number;
}

/** No child may run as root; a daemon that is not root cannot switch. */
export class PrivilegeError extends Error {
  readonly code = 'ERR_LOCAL_PRIVILEGES';
}

/** The uid/gid spawn options for `privs`; throws PrivilegeError when they cannot be had. */
export function spawnOptionsFor(privs: Privileges): Pick<SpawnOptions, 'uid' | 'gid'> {
  if (privs.uid === 0) throw new PrivilegeError(`refusing to deliver as root (${privs.user})`);
  const self = process.getuid?.() ?? -1;
  if (self === 0) return { uid: privs.uid, gid: privs.gid };
  if (self === privs.uid) return {};
  throw new PrivilegeError(`cannot deliver as ${privs.user} (uid ${privs.uid}): the daemon runs as uid ${self}, not root`);
}

const CHILD = fileURLToPath(new URL('./local-child.js', import.meta.url));

/** Runs local-child as `privs` for `job`, feeding it `copy`. */
export function runMailboxChild(job: LocalChildJob, copy: Buffer, privs: Privileges): Promise<LocalChildResult> {
  return new Promise((resolveResult) => {
    let ids;
    try {
      ids = spawnOptionsFor(privs);
    } catch (err) {
      resolveResult({ ok: false, temporary: true, dsn: '4.3.0', reason: (err as Error).message });
      return;
    }
    // As root the child starts as root and switches itself before it touches a file (local-child's
    // dropPrivileges), so Node and the program need not be reachable by the user.
    const args = ids.uid !== undefined ? [CHILD, JSON.stringify(job), '--as', `${ids.uid}:${ids.gid}`] : [CHILD, JSON.stringify(job)];
    const child = spawn(process.execPath, args, { cwd: '/', env: {}, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout!.setEncoding('utf8').on('data', (c: string) => (out += c));
    child.stderr!.setEncoding('utf8').on('data', (c: string) => (err += c.slice(0, 2000)));
    child.stdin!.on('error', () => undefined);
    child.stdin!.end(copy);
    child.on('error', (e) => resolveResult({ ok: false, temporary: true, dsn: '4.3.0', reason: `cannot run the delivery process: ${e.message}` }));
    child.on('close', (code, signal) => {
      try {
        resolveResult(JSON.parse(out.trim()) as LocalChildResult);
      } catch {
        const why = signal ? `signal ${signal}` : `status ${code}`;
        resolveResult({ ok: false, temporary: true, dsn: '4.3.0', reason: `delivery process ended with ${why}${err ? `: ${err.trim().split('\n')[0]}` : ''}` });
      }
    });
  });
}
