/**
 * virtual-maildir: writes one message into a Maildir (tmp/ -> fsync ->
 * rename into new/ -> fsync new/) or appends it to an mbox file (with a
 * "From " line and ">From " quoting, fsync), as Postfix's virtual(8) does,
 * with Postfix's Return-Path and Delivered-To headers first and UNIX line
 * ends. Throws the file system's error (with its errno code) on failure;
 * a half-written Maildir file is removed from tmp/.
 */
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import { hostname } from 'node:os';
import { dirname, join } from 'node:path';
import { threadId } from 'node:worker_threads';
import { syncDir } from '../../store/store-segment.js';

let counter = 0;
/** The host part of Maildir file names, with "/" and ":" escaped; read once, as Postfix does. */
const MAILDIR_HOST = hostname().replace(/\//g, '\\057').replace(/:/g, '\\072');
const MAILDIR_SUBDIRS = ['tmp', 'new', 'cur'];

/** A unique Maildir file name: "time.pid_thread_counter.host" (no "/" or ":" in the host part). */
function maildirName(now = Date.now()): string {
  counter++;
  return `${Math.floor(now / 1000)}.${process.pid}_${threadId}_${counter}.${MAILDIR_HOST}`;
}

/** Creates the Maildir's tmp/, new/ and cur/ (and the Maildir itself) where missing. */
async function makeMaildir(dir: string): Promise<void> {
  for (const sub of MAILDIR_SUBDIRS) await mkdir(join(dir, sub), { recursive: true, mode: 0o700 });
}

function isMissing(err: unknown): boolean {
  return (err as NodeJS.ErrnoException)?.code === 'ENOENT';
}

/** The delivered copy: Return-Path, Delivered-To, then the message (already with LF line ends, from crlfToLf). */
export function deliveredCopy(sender: string, recipient: string, lfContent: Buffer): Buffer {
  const head = Buffer.from(`Return-Path: <${sender}>\nDelivered-To: ${recipient.toLowerCase()}\n`);
  return Buffer.concat([head, lfContent]);
}

/** The message with UNIX line ends (CRLF -> LF); done once per message, not per recipient. */
export function crlfToLf(content: Buffer): Buffer {
  const out = Buffer.allocUnsafe(content.length);
  let n = 0;
  for (let i = 0; i < content.length; i++) {
    const b = content[i];
    if (b === 0x0d && content[i + 1] === 0x0a) continue;
    out[n++] = b;
  }
  return out.subarray(0, n);
}

/** Delivers `data` into the Maildir at `dir` (created when missing); returns the file's path in new/. */
export async function deliverMaildir(dir: string, data: Buffer): Promise<string> {
  const name = maildirName();
  const tmpPath = join(dir, 'tmp', name);
  const newPath = join(dir, 'new', name);
  // The directories are made only when missing: three mkdir calls per delivery cost more than the rare retry.
  const fh = await open(tmpPath, 'wx', 0o600).catch(async (err: unknown) => {
    if (!isMissing(err)) throw err;
    await makeMaildir(dir);
    return open(tmpPath, 'wx', 0o600);
  });
  try {
    try {
      await fh.writeFile(data);
      await fh.sync();
    } finally {
      await fh.close();
    }
    await rename(tmpPath, newPath).catch(async (err: unknown) => {
      if (!isMissing(err)) throw err;
      await makeMaildir(dir);
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
export async function deliverMbox(file: string, sender: string, data: Buffer, now = new Date()): Promise<void> {
  const from = `From ${sender || 'MAILER-DAEMON'}  ${now.toUTCString().replace(/^(\w+), (\d+) (\w+) (\d+) (\S+) GMT$/, '$1 $3 $2 $5 $4')}\n`;
  const quoted = data.toString('latin1').replace(/^(>*From )/gm, '>$1');
  const body = quoted.endsWith('\n') ? quoted : quoted + '\n';
  await mkdir(dirname(file), { recursive: true, mode: 0o700 });
  const fh = await open(file, 'a', 0o600);
  try {
    await fh.writeFile(Buffer.from(from + body + '\n', 'latin1'));
    await fh.sync();
  } finally {
    await fh.close();
  }
}
