/**
 * private-files: the queue is private whatever the umask: directories 0700,
 * files 0600. A mode given to mkdir or open is masked by the umask, so a
 * umask of 0 would leave it as asked but a umask of 022 only narrows it and
 * one of 0277 makes a directory the daemon cannot write; so every directory
 * and file made here gets its mode set again with chmod / fchmod once it
 * exists. Postfix's postfix-script sets its queue's modes the same way,
 * explicitly, never trusting the umask.
 *
 * Errors: the system errors of mkdir, open and chmod, as they come.
 */
import { chmodSync, existsSync, mkdirSync } from 'node:fs';
import { chmod, mkdir, open, stat, type FileHandle } from 'node:fs/promises';
import { dirname } from 'node:path';

/** Mode of every directory of the queue. */
export const PRIVATE_DIR_MODE = 0o700;
/** Mode of every file of the queue (the control socket included). */
export const PRIVATE_FILE_MODE = 0o600;

/**
 * Makes `dir` (and its missing parents) mode 0700, and sets `dir` itself to
 * 0700 when it exists already: it is one of the queue's own directories.
 * Parents that exist are left as they are (the administrator's choice).
 */
export async function makePrivateDir(dir: string): Promise<void> {
  const missing: string[] = [];
  for (let p = dir; !(await stat(p).then(() => true, () => false)); p = dirname(p)) {
    missing.unshift(p);
    if (dirname(p) === p) break;
  }
  for (const p of missing) {
    try {
      await mkdir(p, { mode: PRIVATE_DIR_MODE });
    } catch (err) {
      // Made meanwhile by another thread of the daemon, which sets its mode too.
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    await chmod(p, PRIVATE_DIR_MODE);
  }
  if (missing.length === 0) await chmod(dir, PRIVATE_DIR_MODE);
}

/** makePrivateDir for synchronous callers (the supervisor before it starts, `postrider check`). */
export function makePrivateDirSync(dir: string): void {
  const missing: string[] = [];
  for (let p = dir; !existsSync(p); p = dirname(p)) {
    missing.unshift(p);
    if (dirname(p) === p) break;
  }
  for (const p of missing) {
    try {
      mkdirSync(p, { mode: PRIVATE_DIR_MODE });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
    }
    chmodSync(p, PRIVATE_DIR_MODE);
  }
  if (missing.length === 0) chmodSync(dir, PRIVATE_DIR_MODE);
}

/**
 * Opens `path` with `flags` (which create it: 'w', 'w+', 'wx', 'a') as a
 * 0600 file whatever the umask; an existing file opened this way becomes
 * 0600 too. The handle is closed again if its mode cannot be set.
 */
export async function openPrivate(path: string, flags: string): Promise<FileHandle> {
  const fh = await open(path, flags, PRIVATE_FILE_MODE);
  try {
    await fh.chmod(PRIVATE_FILE_MODE);
  } catch (err) {
    await fh.close().catch(() => undefined);
    throw err;
  }
  return fh;
}
