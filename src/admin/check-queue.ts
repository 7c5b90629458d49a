/**
 * check-queue: `postrider check`'s queue directory half (Postfix's
 * postfix-script check_perms): the queue directory exists or is created,
 * belongs to the running user, and nobody else can write where that would
 * let them plant mail or drive the daemon (the directory itself, private/
 * 0700 with the control socket 0600, maildrop/ 0700, journal/ and its
 * segments, corrupt/, pid/). Journal segments must be readable and
 * writable; every record quarantined in corrupt/ is reported; a pid file
 * naming a dead process is reported as stale. Subdirectories that do not
 * exist yet are fine: the daemon creates them. Never throws: every problem
 * is returned, each as one line.
 */
import { accessSync, constants, lstatSync, mkdirSync, readdirSync, readFileSync, type Stats } from 'node:fs';
import { join } from 'node:path';
import { pidFilePath, pidFileVerdict } from '../supervisor/pid-file.js';

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
  | 'QUEUE_UNREADABLE'
  | 'QUEUE_CORRUPT'
  | 'QUEUE_STALE_PID';

export interface CheckQueueOptions {
  /** The user the daemon runs as; default the running process's uid. */
  uid?: number;
  /** Create the queue directory when missing (postfix check does); default true. */
  create?: boolean;
}

/** Parts of the queue directory whose permissions matter: [name, most permissive mode, is a directory]. */
const PARTS: Array<[string, number, boolean]> = [
  ['private', 0o700, true],
  ['private/control', 0o600, false],
  ['maildrop', 0o700, true],
  ['journal', 0o755, true],
  ['corrupt', 0o755, true],
  ['pid', 0o755, true],
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
      mkdirSync(queueDir, { recursive: true, mode: 0o755 });
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

  checkOwnerAndMode(queueDir, top, 0o755, uid, add);
  for (const [name, most, isDir] of PARTS) {
    const path = join(queueDir, name);
    const st = lstatOrUndefined(path);
    if (!st) continue;
    if (isDir && !st.isDirectory()) {
      add('error', 'QUEUE_NOT_DIRECTORY', `not a directory: ${path}`);
      continue;
    }
    checkOwnerAndMode(path, st, most, uid, add);
  }

  checkSegments(join(queueDir, 'journal'), uid, add);
  checkCorrupt(join(queueDir, 'corrupt'), add);
  checkPidFile(pidFilePath(queueDir), add);
  return problems;
}

type Add = (severity: QueueProblem['severity'], code: QueueProblemCode, message: string) => void;

/** Owner other than `uid` is a warning; group or other write an error; any other bit beyond `most` a warning. */
function checkOwnerAndMode(path: string, st: Stats, most: number, uid: number, add: Add): void {
  if (uid >= 0 && st.uid !== uid) add('warning', 'QUEUE_OWNER', `not owned by uid ${uid} (owner uid ${st.uid}): ${path}`);
  // Socket access needs write permission, so "writable by others" is the risk for every kind of entry.
  if (st.mode & 0o022) {
    add('error', 'QUEUE_WRITABLE_BY_OTHERS', `group or other writable (mode ${octal(st.mode)}): ${path}`);
  } else if (st.mode & 0o777 & ~most) {
    add('warning', 'QUEUE_TOO_OPEN', `mode ${octal(st.mode)} is more open than ${octal(most)}: ${path}`);
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
    // Only writing by others matters for a segment: 0o777 lets every other bit pass.
    checkOwnerAndMode(path, st, 0o777, uid, add);
  }
}

/** Each file in corrupt/ is one quarantined record the administrator has not looked at yet. */
function checkCorrupt(corruptDir: string, add: Add): void {
  const names = listDir(corruptDir, add);
  if (!names) return;
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
