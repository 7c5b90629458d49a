/**
 * local-child: the program the local agent runs, as the recipient's user
 * (never root), for one mailbox or file delivery. The job is argv[2] (JSON,
 * a LocalChildJob); the message copy (headers the agent prepended, UNIX
 * line ends) comes on standard input. It writes one JSON line, a
 * LocalChildResult, on standard output and exits 0; anything else (a crash,
 * a signal) the agent reads as a temporary failure.
 *
 * mbox and file: Postfix's mailbox_delivery_lock as far as Node allows:
 * the dotlock "NAME.lock", made with an exclusive create (O_CREAT|O_EXCL),
 * tried deliver_lock_attempts times deliver_lock_delay apart, a lock older
 * than stale_lock_time removed as stale (fcntl and flock have no Node
 * interface). Then the "From " line, the copy with ">From " quoting of
 * lines that begin with "From ", a blank line, fsync; on a write error the
 * file is cut back to its old size, so a mailbox never keeps half a message.
 * A file delivery may go without the dotlock when its directory refuses
 * one, as Postfix's MBOX_DOT_LOCK_MAY_FAIL.
 * Maildir: tmp/ -> fsync -> rename into new/ -> fsync new/.
 */
import { closeSync, fstatSync, fsyncSync, ftruncateSync, lstatSync, mkdirSync, openSync, renameSync, statSync, unlinkSync, writeSync, constants } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';

/** What one child does. */
export interface LocalChildJob {
  kind: 'mbox' | 'file' | 'maildir';
  path: string;
  /** The envelope sender, for the "From " line. */
  sender: string;
  /** mailbox_size_limit (0: none): the file after delivery, or the Maildir message. */
  sizeLimit: number;
  /** The uid the mbox must belong to (strict_mailbox_ownership); -1: no check. */
  ownerUid: number;
  lockAttempts: number;
  lockDelayMs: number;
  staleLockMs: number;
  /** Seconds since the epoch, for the "From " line (the agent's clock). */
  now: number;
}

/** The child's answer. */
export type LocalChildResult = { ok: true; path: string } | { ok: false; temporary: boolean; dsn: string; reason: string };

class DeliveryFailure extends Error {
  constructor(
    readonly temporary: boolean,
    readonly dsn: string,
    reason: string,
  ) {
    super(reason);
  }
}

const sleep = (ms: number): void => {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
};

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number): string => String(n).padStart(2, '0');

/** asctime(localtime(t)) without its newline: "Thu Jan  1 00:00:00 2026", as Postfix's "From " line. */
export function asctime(t: Date): string {
  return `${DAYS[t.getDay()]} ${MONTHS[t.getMonth()]} ${String(t.getDate()).padStart(2, ' ')} ${two(t.getHours())}:${two(t.getMinutes())}:${two(t.getSeconds())} ${t.getFullYear()}`;
}

/** The bytes an mbox gets for one message: "From " line, quoted copy, blank line. */
export function mboxRecord(sender: string, copy: Buffer, now: Date): Buffer {
  const head = Buffer.from(`From ${sender || 'MAILER-DAEMON'}  ${asctime(now)}\n`, 'latin1');
  const parts: Buffer[] = [head];
  let start = 0;
  while (start < copy.length) {
    let end = copy.indexOf(0x0a, start);
    end = end < 0 ? copy.length : end + 1;
    if (end - start >= 5 && copy.toString('latin1', start, start + 5) === 'From ') parts.push(Buffer.from('>'));
    parts.push(copy.subarray(start, end));
    start = end;
  }
  if (copy.length > 0 && copy[copy.length - 1] !== 0x0a) parts.push(Buffer.from('\n'));
  parts.push(Buffer.from('\n'));
  return Buffer.concat(parts);
}

/** Postfix's mbox_dsn: transient errors (and a full disk) defer, others take `dflt`. */
function mboxDsn(code: string | undefined, dflt: string): string {
  if (code === 'ENOSPC' || code === 'EDQUOT') return '4.3.0';
  if (code === 'EAGAIN' || code === 'ESTALE' || code === 'EBUSY' || code === 'EINTR' || code === 'EMFILE' || code === 'ENFILE') return '4.2.0';
  return dflt;
}

/** Takes the dotlock of `path`; returns its name, or undefined when `mayFail` and the directory refuses it. */
function dotlock(path: string, job: LocalChildJob, mayFail: boolean): string | undefined {
  const lock = `${path}.lock`;
  for (let attempt = 1; ; attempt++) {
    try {
      closeSync(openSync(lock, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600));
      return lock;
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (code !== 'EEXIST') {
        if (mayFail) return undefined;
        throw new DeliveryFailure(true, '4.2.0', `unable to create lock file ${lock}: ${(err as Error).message}`);
      }
    }
    let age: number | undefined;
    try {
      age = Date.now() - lstatSync(lock).mtimeMs;
    } catch {
      // Gone meanwhile: try again at once (it counts as an attempt, so this ends).
    }
    if (age !== undefined && age > job.staleLockMs) {
      try {
        unlinkSync(lock);
        continue;
      } catch {
        // Not ours to remove (another user's, in a sticky directory): wait as for a live one.
      }
    }
    if (age === undefined && attempt < job.lockAttempts) continue;
    if (attempt >= job.lockAttempts) throw new DeliveryFailure(true, '4.2.0', `unable to lock for exclusive access: ${lock}: File exists`);
    sleep(job.lockDelayMs);
  }
}

/** Appends one record to an mbox or file, under its dotlock. */
function deliverMbox(job: LocalChildJob, copy: Buffer): void {
  const lock = dotlock(job.path, job, job.kind === 'file');
  try {
    let fd: number;
    try {
      fd = openSync(job.path, constants.O_WRONLY | constants.O_APPEND | constants.O_CREAT | constants.O_NOFOLLOW, 0o600);
    } catch (err) {
      const dsn = mboxDsn((err as NodeJS.ErrnoException).code, '5.2.0');
      throw new DeliveryFailure(dsn.startsWith('4'), dsn, `cannot open file: ${(err as Error).message}`);
    }
    try {
      const st = fstatSync(fd);
      if (!st.isFile() && !(job.kind === 'file' && st.isCharacterDevice())) throw new DeliveryFailure(false, '5.2.0', `cannot append message to file ${job.path}: not a regular file`);
      if (job.ownerUid >= 0 && st.uid !== job.ownerUid) throw new DeliveryFailure(true, '4.2.0', `mailbox ${job.path}: file should be owned by uid ${job.ownerUid}, not ${st.uid}`);
      const record = mboxRecord(job.sender, copy, new Date(job.now * 1000));
      if (job.sizeLimit > 0 && st.isFile() && st.size + record.length > job.sizeLimit) {
        throw new DeliveryFailure(false, '5.2.2', 'cannot update mailbox: error writing message: File too large');
      }
      try {
        for (let off = 0; off < record.length; ) off += writeSync(fd, record, off);
        if (st.isFile()) fsyncSync(fd);
      } catch (err) {
        if (st.isFile()) ftruncateSync(fd, st.size);
        const code = (err as NodeJS.ErrnoException).code;
        const full = code === 'ENOSPC' || code === 'EDQUOT';
        throw new DeliveryFailure(true, full ? '4.3.0' : '4.2.0', `error writing message: ${(err as Error).message}`);
      }
    } finally {
      closeSync(fd);
    }
  } finally {
    if (lock) unlinkSync(lock);
  }
}

let counter = 0;

/** Delivers into the Maildir at job.path (created where missing). */
function deliverMaildir(job: LocalChildJob, copy: Buffer): string {
  if (job.sizeLimit > 0 && copy.length > job.sizeLimit) throw new DeliveryFailure(false, '5.2.2', 'cannot update maildir: error writing message: File too large');
  for (const sub of ['tmp', 'new', 'cur']) mkdirSync(join(job.path, sub), { recursive: true, mode: 0o700 });
  const host = hostname().replace(/\//g, '\\057').replace(/:/g, '\\072');
  const name = `${job.now}.P${process.pid}Q${++counter}.${host}`;
  const tmp = join(job.path, 'tmp', name);
  const fd = openSync(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    for (let off = 0; off < copy.length; ) off += writeSync(fd, copy, off);
    fsyncSync(fd);
  } catch (err) {
    closeSync(fd);
    unlinkSync(tmp);
    throw err;
  }
  closeSync(fd);
  const target = join(job.path, 'new', name);
  renameSync(tmp, target);
  const dir = openSync(join(job.path, 'new'), constants.O_RDONLY);
  try {
    fsyncSync(dir);
  } finally {
    closeSync(dir);
  }
  return target;
}

/** Runs one job; never throws. */
export function runJob(job: LocalChildJob, copy: Buffer): LocalChildResult {
  try {
    if (job.kind === 'maildir') return { ok: true, path: deliverMaildir(job, copy) };
    // A file named in an alias or .forward must exist or be creatable; its directory must exist.
    if (job.kind === 'file') statSync(join(job.path, '..'));
    deliverMbox(job, copy);
    return { ok: true, path: job.path };
  } catch (err) {
    if (err instanceof DeliveryFailure) return { ok: false, temporary: err.temporary, dsn: err.dsn, reason: err.message };
    const code = (err as NodeJS.ErrnoException).code;
    const full = code === 'ENOSPC' || code === 'EDQUOT';
    return { ok: false, temporary: true, dsn: full ? '4.3.0' : '4.2.0', reason: (err as Error).message };
  }
}

/**
 * Becomes the delivery's user when started as root with "--as UID:GID"
 * (argv[3..4]): the program and Node itself were loaded as root, so they
 * need not be readable by the user (an installation under a private
 * directory works), and nothing is read or written before the switch.
 * Returns a failure when the switch did not take.
 */
export function dropPrivileges(argv: readonly string[]): LocalChildResult | undefined {
  if (argv[3] !== '--as') return undefined;
  const m = /^(\d+):(\d+)$/.exec(argv[4] ?? '');
  const fail = (why: string): LocalChildResult => ({ ok: false, temporary: true, dsn: '4.3.0', reason: `cannot switch to the delivery's user: ${why}` });
  if (!m) return fail(`bad identity ${argv[4] ?? ''}`);
  const uid = Number(m[1]);
  const gid = Number(m[2]);
  if (uid === 0) return fail('refusing to deliver as root');
  try {
    process.setgroups?.([gid]);
    process.setgid?.(gid);
    process.setuid?.(uid);
  } catch (err) {
    return fail((err as Error).message);
  }
  if (process.getuid?.() !== uid || process.geteuid?.() !== uid || process.getgid?.() !== gid) return fail('the identity did not change');
  return undefined;
}

function main(): void {
  const refused = dropPrivileges(process.argv);
  if (refused) {
    process.stdout.write(JSON.stringify(refused) + '\n');
    return;
  }
  const job = JSON.parse(process.argv[2] ?? '{}') as LocalChildJob;
  const chunks: Buffer[] = [];
  process.stdin.on('data', (c: Buffer) => chunks.push(c));
  process.stdin.on('end', () => {
    process.stdout.write(JSON.stringify(runJob(job, Buffer.concat(chunks))) + '\n');
  });
}

if (process.argv[1] && /local-child\.js$/.test(process.argv[1])) main();
