/**
 * virtual-maildir: writes one message into a Maildir (tmp/ -> fsync ->
 * rename into new/ -> fsync new/) or appends it to an mbox file (with a
 * "From " line and ">From " quoting, fsync), as Postfix's virtual(8) does,
 * with Postfix's Return-Path, X-Original-To and Delivered-To headers first
 * and UNIX line ends. Maildir file names are Postfix's
 * "time.VdevIinodeMusec.host" (device and inode in hex, of the file itself);
 * the mbox "From " line carries asctime(3)'s local date ("Sat Dec  5
 * 01:33:28 2026", the day padded with a space). With an owner given
 * (virtual_uid_maps / virtual_gid_maps) the files and the directories made
 * for them belong to it. Throws the file system's error (with its errno
 * code) on failure; a half-written Maildir file is removed from tmp/.
 */
import { chown, mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { threadId } from 'node:worker_threads';
import { syncDir } from '../../store/store-segment.js';

let counter = 0;
/** The host part of Maildir file names, with "/" and ":" escaped; read once, as Postfix does. */
const MAILDIR_HOST = hostname().replace(/\//g, '\\057').replace(/:/g, '\\072');
const MAILDIR_SUBDIRS = ['tmp', 'new', 'cur'];
const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/** Who the delivered files belong to; undefined: the user Postrider runs as. */
export interface MailboxOwner {
  uid: number;
  gid: number;
}

/** Microseconds since the epoch. */
function nowMicros(): number {
  return Math.floor((performance.timeOrigin + performance.now()) * 1000);
}

/** asctime(3) of a local time, without its newline: "Sat Dec  5 01:33:28 2026". */
export function asctime(d: Date): string {
  const two = (n: number): string => String(n).padStart(2, '0');
  return `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${String(d.getDate()).padStart(2, ' ')} ${two(d.getHours())}:${two(d.getMinutes())}:${two(d.getSeconds())} ${d.getFullYear()}`;
}

/** Makes `dir` and its missing parents, giving each one made to `owner`. */
async function makeDirs(dir: string, owner: MailboxOwner | undefined): Promise<void> {
  const first = await mkdir(dir, { recursive: true, mode: 0o700 });
  if (!owner || first === undefined) return;
  // mkdir answers the first directory it made; it and everything below it up to `dir` are new.
  for (let d = dir; ; d = dirname(d)) {
    await chown(d, owner.uid, owner.gid);
    if (d === first || dirname(d) === d) break;
  }
}

/** Creates the Maildir's tmp/, new/ and cur/ (and the Maildir itself) where missing. */
async function makeMaildir(dir: string, owner: MailboxOwner | undefined): Promise<void> {
  for (const sub of MAILDIR_SUBDIRS) await makeDirs(join(dir, sub), owner);
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT';
}

/**
 * The delivered copy: Return-Path, X-Original-To (when `original` is given:
 * enable_original_recipient), Delivered-To (lowercased), then the message
 * (already with LF line ends, from crlfToLf).
 */
export function deliveredCopy(sender: string, recipient: string, lfContent: Buffer, original?: string): Buffer {
  const orig = original !== undefined ? `X-Original-To: ${original}\n` : '';
  const head = Buffer.from(`Return-Path: <${sender}>\n${orig}Delivered-To: ${recipient.toLowerCase()}\n`);
  return Buffer.concat([head, lfContent]);
}

/** Delivers `data` into the Maildir at `dir` (created when missing); returns the file's path in new/. */
export async function deliverMaildir(dir: string, data: Buffer, owner?: MailboxOwner): Promise<string> {
  const micros = nowMicros();
  const seconds = Math.floor(micros / 1e6);
  // Postfix's tmp name is "time.Ppid.host"; threads share the pid here, so the thread and a counter follow it.
  const tmpPath = join(dir, 'tmp', `${seconds}.P${process.pid}Q${threadId}_${++counter}.${MAILDIR_HOST}`);
  const fh: FileHandle = await open(tmpPath, 'wx', 0o600).catch(async (err: unknown) => {
    if (!isMissing(err)) throw err;
    await makeMaildir(dir, owner);
    return open(tmpPath, 'wx', 0o600);
  });
  let newPath = '';
  try {
    try {
      if (owner) await fh.chown(owner.uid, owner.gid);
      const st = await fh.stat({ bigint: true });
      newPath = join(dir, 'new', `${seconds}.V${st.dev.toString(16)}I${st.ino.toString(16)}M${micros % 1e6}.${MAILDIR_HOST}`);
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmpPath, newPath).catch(async (err: unknown) => {
      if (!isMissing(err)) throw err;
      await makeMaildir(dir, owner);
      await rename(tmpPath, newPath);
    });
  } catch (err) {
    await unlink(tmpPath).catch(() => undefined);
    throw err;
  }
  await syncDir(join(dir, 'new'));
  return newPath;
}

/** Appends to the mbox file at `file` (it and its directory created when missing), with the "From " envelope line. */
export async function deliverMbox(file: string, sender: string, data: Buffer, now = new Date(), owner?: MailboxOwner): Promise<void> {
  const from = `From ${sender || 'MAILER-DAEMON'}  ${asctime(now)}\n`;
  const quoted = data.toString('latin1').replace(/^(>*From )/gm, '>$1');
  const body = quoted.endsWith('\n') ? quoted : quoted + '\n';
  await makeDirs(dirname(file), owner);
  const fh = await open(file, 'a', 0o600);
  try {
    // A new (empty) file is given to the owner; an existing one keeps its own.
    if (owner && (await fh.stat()).size === 0) await fh.chown(owner.uid, owner.gid);
    await fh.writeFile(Buffer.from(from + body + '\n', 'latin1'));
    await fh.sync();
  } finally {
    await fh.close();
  }
}
