/**
 * compile-cache: Node's on-disk compile cache (the V8 code of the modules
 * once compiled) for the commands and the actor threads, so that each start
 * of a command, a daemon or an actor thread reuses what the ones before it
 * compiled instead of compiling every module again. A daemon starts a dozen
 * threads, each loading its own copy of the modules; a restarted actor and
 * every `postrider` command load them again.
 *
 * The cache lives in the temporary directory, one per user id
 * (TMPDIR/postrider-compile-cache-UID), made 0700 and used only when it is
 * a directory of this user that nobody else can open: code read from the
 * cache is run, so another user must not be able to plant it. The
 * environment decides when it speaks: NODE_COMPILE_CACHE=DIR (Node then
 * uses DIR in every thread) or NODE_DISABLE_COMPILE_CACHE=1 (none).
 *
 * Public: compileCacheDir() (chooseCacheDir() decides), enableCompileCache() for the command's own
 * thread, workerEnv() for an actor thread's environment.
 *
 * Errors: none. The cache is a speed-up only: a directory that cannot be
 * made or is not safe, or a cache Node cannot use, means compiling as
 * without it, never a failed command or daemon.
 */
import { lstatSync, mkdirSync } from 'node:fs';
import module from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Decided once per process: the directory, or null for none. */
let decided: string | null | undefined;

/** The cache directory this process gives its threads, or undefined (none, or the environment's own). */
export function compileCacheDir(): string | undefined {
  if (decided === undefined) decided = chooseCacheDir(tmpdir(), process.env) ?? null;
  return decided ?? undefined;
}

/**
 * The cache directory under `base` for this user (made 0700 when missing),
 * or undefined: when `env` chooses itself, or the directory is not a
 * directory of this user closed to everyone else.
 */
export function chooseCacheDir(base: string, env: NodeJS.ProcessEnv): string | undefined {
  // The environment's choice reaches every thread by itself.
  if (env.NODE_DISABLE_COMPILE_CACHE || env.NODE_COMPILE_CACHE) return undefined;
  const uid = typeof process.getuid === 'function' ? process.getuid() : undefined;
  if (uid === undefined) return undefined;
  try {
    const dir = join(base, `postrider-compile-cache-${uid}`);
    try {
      mkdirSync(dir, { mode: 0o700 });
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'EEXIST') return undefined;
    }
    // lstat: a symbolic link planted in a shared temporary directory is not ours.
    const st = lstatSync(dir);
    if (!st.isDirectory() || st.uid !== uid || (st.mode & 0o077) !== 0) return undefined;
    return dir;
  } catch {
    return undefined;
  }
}

/** Turns the cache on for this thread's modules loaded from now on. */
export function enableCompileCache(): void {
  const dir = compileCacheDir();
  if (!dir) return;
  try {
    // Returns a status instead of throwing; a failure just leaves compiling as it was.
    module.enableCompileCache?.(dir);
  } catch {
    // an older Node without it, or a cache it refuses: compile as before
  }
}

/**
 * The environment for an actor thread: this process's with
 * NODE_COMPILE_CACHE naming the cache, or undefined (the thread then gets
 * this process's environment, as by default). Only the thread gets it: the
 * processes the daemon runs keep the environment they are given.
 */
export function workerEnv(): NodeJS.ProcessEnv | undefined {
  const dir = compileCacheDir();
  return dir ? { ...process.env, NODE_COMPILE_CACHE: dir } : undefined;
}
