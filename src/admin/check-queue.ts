/**
 * check-queue: `postrider check`'s queue directory half (Postfix's
 * postfix-script check_perms): the queue directory exists or is created
 * (0700), belongs to the running user, and is private: every directory
 * 0700 and every file 0600 (the directory itself, private/ with the control
 * socket, maildrop/, journal/ and its segments, corrupt/ and the records in
 * it, pid/ and master.pid), as the daemon makes them whatever the umask.
 * One line per path names the mode found and the mode expected: writable
 * by others (they could plant mail or drive the daemon) is an error, any
 * other access by others (reading mail) a warning, and a mode that keeps
 * the daemon itself out (no owner read, write or search) an error. Journal segments must be readable
 * and writable; every record quarantined in corrupt/ is reported; a pid
 * file naming a dead process is reported as stale. Subdirectories that do
 * not exist yet are fine: the daemon creates them. Never throws: every
 * problem is returned, each as one line.
 */
import { listShards, shardRoot, SHARDS_DIR } from '../store/store-segment.js';
import { accessSync, constants, lstatSync, readdirSync, readFileSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { pidFilePath, pidFileVerdict } from '../supervisor/pid-file.js';
import { makePrivateDirSync, PRIVATE_DIR_MODE, PRIVATE_FILE_MODE } from '../util/private-files.js';

/** One queue directory problem; `error` makes `postrider check` exit 1. */
export interface QueueProblem {
  severity: 'error' | 'warning';
  /** Stable code for callers and tests (e.g. QUEUE_CORRUPT). */
  code: QueueProblemCode;
  message: string;
}

export type QueueProblemCode =
  | 'QUEUE_MISSING'
  | 'QUEUE_NOT_DIRECTORY'
  | 'QUEUE_OWNER'
  | 'QUEUE_WRITABLE_BY_OTHERS'
  | 'QUEUE_TOO_OPEN'
  | 'QUEUE_TOO_CLOSED'
  | 'QUEUE_UNREADABLE'
  | 'QUEUE_CORRUPT'
  | 'QUEUE_STALE_PID';

export interface CheckQueueOptions {
  /** The user the daemon runs as; default the running process's uid. */
  uid?: number;
  /** Create the queue directory when missing (postfix check does); default true. */
  create?: boolean;
}

/** Parts of the queue directory whose permissions matter: [name, is a directory]. */
const PARTS: Array<[string, boolean]> = [
  ['private', true],
  ['private/control', false],
  ['maildrop', true],
  ['journal', true],
  ['corrupt', true],
  // Large messages: being received (spool) and queued with their body in a file of its own (large).
  ['spool', true],
  ['large', true],
  ['pid', true],
  ['pid/master.pid', false],
];

const SEGMENT_RE = /^\d{10}\.seg$/;

function firstLine(err: unknown): string {
  return String((err as Error)?.message ?? err).split('\n')[0]!;
}

function lstatOrUndefined(path: string): Stats | undefined {
  try {
    return lstatSync(path);
  } catch {
    return undefined;
  }
}

function octal(mode: number): string {
  return '0' + (mode & 0o7777).toString(8);
}

/** Checks one queue directory; returns every problem found, none when all is well. */
export function checkQueueDirectory(queueDir: string, opts: CheckQueueOptions = {}): QueueProblem[] {
  const problems: QueueProblem[] = [];
  const uid = opts.uid ?? (typeof process.getuid === 'function' ? process.getuid() : -1);
  const add = (severity: QueueProblem['severity'], code: QueueProblemCode, message: string): void => {
    problems.push({ severity, code, message });
  };

  let top = lstatOrUndefined(queueDir);
  if (!top && opts.create !== false) {
    try {
      makePrivateDirSync(queueDir);
      top = lstatOrUndefined(queueDir);
    } catch (err) {
      add('error', 'QUEUE_MISSING', `queue directory ${queueDir} cannot be created: ${firstLine(err)}`);
      return problems;
    }
  }
  if (!top) {
    add('error', 'QUEUE_MISSING', `queue directory ${queueDir} does not exist`);
    return problems;
  }
  if (!top.isDirectory()) {
    add('error', 'QUEUE_NOT_DIRECTORY', `queue directory ${queueDir} is not a directory`);
    return problems;
  }

  checkOwnerAndMode(queueDir, top, PRIVATE_DIR_MODE, uid, add);
  for (const [name, isDir] of PARTS) {
    const path = join(queueDir, name);
    const st = lstatOrUndefined(path);
    if (!st) continue;
    if (isDir && !st.isDirectory()) {
      add('error', 'QUEUE_NOT_DIRECTORY', `not a directory: ${path}`);
      continue;
    }
    checkOwnerAndMode(path, st, isDir ? PRIVATE_DIR_MODE : PRIVATE_FILE_MODE, uid, add);
  }

  checkSegments(join(queueDir, 'journal'), uid, add);
  checkCorrupt(join(queueDir, 'corrupt'), uid, add);
  // Queue shards past the first keep their journal and corrupt area under shards/N.
  const shardsDir = join(queueDir, SHARDS_DIR);
  const shardsSt = lstatOrUndefined(shardsDir);
  if (shardsSt) checkOwnerAndMode(shardsDir, shardsSt, PRIVATE_DIR_MODE, uid, add);
  let shards: number[] = [];
  try {
    shards = listShards(queueDir);
  } catch (err) {
    add('error', 'QUEUE_UNREADABLE', `cannot list ${shardsDir}: ${firstLine(err)}`);
  }
  for (const n of shards) {
    if (n === 0) continue;
    const root = shardRoot(queueDir, n);
    for (const part of ['', 'journal', 'corrupt', 'large']) {
      const path = part ? join(root, part) : root;
      const st = lstatOrUndefined(path);
      if (!st) continue;
      if (!st.isDirectory()) {
        add('error', 'QUEUE_NOT_DIRECTORY', `not a directory: ${path}`);
        continue;
      }
      checkOwnerAndMode(path, st, PRIVATE_DIR_MODE, uid, add);
    }
    checkSegments(join(root, 'journal'), uid, add);
    checkCorrupt(join(root, 'corrupt'), uid, add);
  }
  checkPidFile(pidFilePath(queueDir), add);
  return problems;
}

type Add = (severity: QueueProblem['severity'], code: QueueProblemCode, message: string) => void;

/**
 * Owner other than `uid` is a warning. Against the mode `expected` (0700 or
 * 0600): group or other write is an error, any other bit beyond it a
 * warning, an owner bit missing from it an error (`ownerBits` false: the
 * caller checks access itself). At most one mode line per path.
 */
function checkOwnerAndMode(path: string, st: Stats, expected: number, uid: number, add: Add, ownerBits = true): void {
  if (uid >= 0 && st.uid !== uid) add('warning', 'QUEUE_OWNER', `not owned by uid ${uid} (owner uid ${st.uid}): ${path}`);
  const mode = st.mode & 0o7777;
  const wanted = `mode ${octal(mode)}, expected ${octal(expected)}`;
  // Socket access needs write permission, so "writable by others" is the risk for every kind of entry.
  if (mode & 0o022) {
    add('error', 'QUEUE_WRITABLE_BY_OTHERS', `group or other writable (${wanted}): ${path}`);
  } else if (mode & 0o777 & ~expected) {
    add('warning', 'QUEUE_TOO_OPEN', `open to group or other (${wanted}): ${path}`);
  } else if (ownerBits && (mode & 0o700) !== (expected & 0o700)) {
    add('error', 'QUEUE_TOO_CLOSED', `not usable by its owner (${wanted}): ${path}`);
  }
}

function listDir(dir: string, add: Add): string[] | undefined {
  try {
    return readdirSync(dir);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    add('error', 'QUEUE_UNREADABLE', `cannot list ${dir}: ${firstLine(err)}`);
    return undefined;
  }
}

/** Every segment must be a regular file the daemon can read and write, and nobody else can write. */
function checkSegments(journalDir: string, uid: number, add: Add): void {
  const names = listDir(journalDir, add);
  if (!names) return;
  for (const name of names.filter((n) => SEGMENT_RE.test(n)).sort()) {
    const path = join(journalDir, name);
    const st = lstatOrUndefined(path);
    if (!st) continue;
    if (!st.isFile()) {
      add('error', 'QUEUE_UNREADABLE', `journal segment is not a regular file: ${path}`);
      continue;
    }
    try {
      accessSync(path, constants.R_OK | constants.W_OK);
    } catch (err) {
      add('error', 'QUEUE_UNREADABLE', `journal segment is not readable and writable: ${path}: ${firstLine(err)}`);
    }
    // Message bodies: 0600, like every file of the queue; access was checked just above.
    checkOwnerAndMode(path, st, PRIVATE_FILE_MODE, uid, add, false);
  }
}

/** Each file in corrupt/ is one quarantined record the administrator has not looked at yet; it holds mail, so 0600. */
function checkCorrupt(corruptDir: string, uid: number, add: Add): void {
  const names = listDir(corruptDir, add);
  if (!names) return;
  for (const name of names.sort()) {
    const path = join(corruptDir, name);
    const st = lstatOrUndefined(path);
    if (st?.isFile()) checkOwnerAndMode(path, st, PRIVATE_FILE_MODE, uid, add);
  }
  const records = names.filter((n) => !n.startsWith('.')).length;
  if (records > 0) add('warning', 'QUEUE_CORRUPT', `queue directory: ${records} corrupt record${records === 1 ? '' : 's'} in ${corruptDir}`);
}

/** A pid file naming no live daemon (gone, a zombie, a reused pid) is left from a daemon that did not stop cleanly. */
function checkPidFile(pidFile: string, add: Add): void {
  try {
    readFileSync(pidFile, 'utf8');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    add('error', 'QUEUE_UNREADABLE', `cannot read pid file ${pidFile}: ${firstLine(err)}`);
    return;
  }
  const v = pidFileVerdict(pidFile);
  if (v.verdict === 'none') add('warning', 'QUEUE_STALE_PID', `pid file ${pidFile} holds no process id`);
  else if (v.verdict === 'stale') add('warning', 'QUEUE_STALE_PID', `stale pid file ${pidFile}: ${v.reason}`);
}

/** "postrider: warning: TEXT" on one line, as formatProblem does for configuration problems. */
export function formatQueueProblem(p: QueueProblem): string {
  return `postrider: ${p.severity}: ${p.message.replace(/[\r\n\x00-\x1f]+/g, ' ')}`;
}
