/**
 * maildrop-file: the maildrop file, the hand-off between `postrider sendmail`
 * (which works while the daemon is down) and the pickup service.
 *
 * Layout of $queue_directory/maildrop/NAME:
 *   line 1: a JSON object, the envelope, ended by "\n":
 *     {"format":"postrider-maildrop/1","sender":"...","recipients":[{"address":"..."}...],
 *      "arrivalTime":ms,"uid":n,"fullName"?:"...","envid"?:"...","ret"?:"FULL"|"HDRS",
 *      "bodyType"?:"7BIT"|"8BITMIME","flags":[...]} ("v" among the flags: sendmail -bv)
 *   then: the raw message, headers, empty line, body, CRLF line ends.
 * NAME is a zero-padded millisecond time, the writer's pid and random hex,
 * so names sort by submission time and never collide.
 *
 * Writes are atomic: the file is written as ".tmp-NAME", fsynced, renamed to
 * NAME and the directory fsynced, so pickup never sees half a file; names
 * starting with "." are never picked up. The maildrop directory is created
 * with mode 0700 for the running user (Postfix uses a setgid postdrop helper
 * and mode 1730; Postrider runs as one user).
 *
 * decodeMaildropFile throws MaildropFormatError (code ERR_MAILDROP_FORMAT);
 * writeMaildropFile rejects with the file system's error (ENOTDIR, EACCES,
 * ENOSPC, ...) and removes its temporary file.
 */
import { randomBytes } from 'node:crypto';
import { rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { DsnNotify, RecipientSpec } from '../store/store-types.js';
import { syncDir } from '../store/store-segment.js';
import { openPrivate } from '../util/private-files.js';
import { ensureMaildrop, isMaildropName, maildropDir } from '../store/maildrop-dir.js';

export { ensureMaildrop, isMaildropName, maildropDir };

export const MAILDROP_FORMAT = 'postrider-maildrop/1';

/** Longest envelope line accepted; anything longer is not a maildrop file. */
const MAX_ENVELOPE_BYTES = 4 * 1024 * 1024;

export interface MaildropEnvelope {
  sender: string;
  recipients: RecipientSpec[];
  /** Milliseconds since the epoch, when sendmail took the message. */
  arrivalTime: number;
  /** The submitting user's uid, for pickup's "uid=N" log line. */
  uid: number;
  /** -F: full name for the From: header cleanup may add. */
  fullName?: string;
  /** -V: DSN envelope id. */
  envid?: string;
  /** -R: DSN RET. */
  ret?: 'FULL' | 'HDRS';
  /** -B: the body type (8BITMIME or 7BIT), passed on as SMTP's BODY= is. */
  bodyType?: '7BIT' | '8BITMIME';
  /** The sendmail flags that shaped the file: "t", "i" (informational); "v" (-bv) queues the message verify-only. */
  flags: string[];
}

export class MaildropFormatError extends Error {
  readonly code = 'ERR_MAILDROP_FORMAT';
}

/** A fresh, sortable, unique file name. */
export function maildropName(now = Date.now(), pid = process.pid): string {
  return `${String(now).padStart(15, '0')}.${pid}.${randomBytes(4).toString('hex')}`;
}


export function encodeMaildropFile(env: MaildropEnvelope, content: Uint8Array): Buffer {
  const head: Record<string, unknown> = {
    format: MAILDROP_FORMAT,
    sender: env.sender,
    recipients: env.recipients,
    arrivalTime: env.arrivalTime,
    uid: env.uid,
  };
  if (env.fullName !== undefined) head.fullName = env.fullName;
  if (env.envid !== undefined) head.envid = env.envid;
  if (env.ret !== undefined) head.ret = env.ret;
  if (env.bodyType !== undefined) head.bodyType = env.bodyType;
  head.flags = env.flags;
  // JSON.stringify escapes every newline, so the envelope is always exactly one line.
  return Buffer.concat([Buffer.from(JSON.stringify(head) + '\n', 'utf8'), content]);
}

const NOTIFY_WORDS = new Set(['SUCCESS', 'FAILURE', 'DELAY', 'NEVER']);

function fail(why: string): never {
  throw new MaildropFormatError(why);
}

function isString(v: unknown): v is string {
  return typeof v === 'string';
}

function checkRecipient(v: unknown): RecipientSpec {
  if (!v || typeof v !== 'object') fail('recipient is not an object');
  const r = v as Record<string, unknown>;
  if (!isString(r.address) || r.address === '' || /[\x00-\x1f\x7f<>]/.test(r.address)) fail('bad recipient address');
  const out: RecipientSpec = { address: r.address };
  if (r.orcpt !== undefined) {
    if (!isString(r.orcpt)) fail('bad orcpt');
    out.orcpt = r.orcpt;
  }
  if (r.notify !== undefined) {
    if (!Array.isArray(r.notify) || !r.notify.every((n) => isString(n) && NOTIFY_WORDS.has(n))) fail('bad notify');
    out.notify = r.notify as DsnNotify[];
  }
  return out;
}

/** Parses a maildrop file; throws MaildropFormatError naming the first problem. */
export function decodeMaildropFile(buf: Buffer): { envelope: MaildropEnvelope; content: Buffer } {
  const nl = buf.indexOf(0x0a);
  if (nl < 0 || nl > MAX_ENVELOPE_BYTES) fail('no envelope line');
  let head: unknown;
  try {
    head = JSON.parse(buf.subarray(0, nl).toString('utf8'));
  } catch {
    fail('envelope is not JSON');
  }
  if (!head || typeof head !== 'object' || Array.isArray(head)) fail('envelope is not an object');
  const h = head as Record<string, unknown>;
  if (h.format !== MAILDROP_FORMAT) fail('unknown format');
  if (!isString(h.sender) || /[\x00-\x1f\x7f<>]/.test(h.sender)) fail('bad sender');
  if (!Array.isArray(h.recipients) || h.recipients.length === 0) fail('no recipients');
  const recipients = h.recipients.map(checkRecipient);
  if (typeof h.arrivalTime !== 'number' || !Number.isFinite(h.arrivalTime) || h.arrivalTime < 0) fail('bad arrival time');
  if (typeof h.uid !== 'number' || !Number.isInteger(h.uid) || h.uid < 0) fail('bad uid');
  if (h.fullName !== undefined && !isString(h.fullName)) fail('bad full name');
  if (h.envid !== undefined && !isString(h.envid)) fail('bad envid');
  if (h.ret !== undefined && h.ret !== 'FULL' && h.ret !== 'HDRS') fail('bad ret');
  if (h.bodyType !== undefined && h.bodyType !== '7BIT' && h.bodyType !== '8BITMIME') fail('bad body type');
  const flags = Array.isArray(h.flags) ? h.flags.filter(isString) : [];
  const envelope: MaildropEnvelope = { sender: h.sender, recipients, arrivalTime: h.arrivalTime, uid: h.uid, flags };
  if (h.fullName !== undefined) envelope.fullName = h.fullName as string;
  if (h.envid !== undefined) envelope.envid = h.envid as string;
  if (h.ret !== undefined) envelope.ret = h.ret as 'FULL' | 'HDRS';
  if (h.bodyType !== undefined) envelope.bodyType = h.bodyType as '7BIT' | '8BITMIME';
  return { envelope, content: buf.subarray(nl + 1) };
}

/**
 * Writes one maildrop file atomically (tmp, fsync, rename, directory fsync)
 * and returns its name. The directory must exist (see ensureMaildrop).
 */
export async function writeMaildropFile(dir: string, data: Uint8Array, name = maildropName()): Promise<string> {
  const tmp = join(dir, `.tmp-${name}`);
  let fh;
  try {
    fh = await openPrivate(tmp, 'wx');
    await fh.writeFile(data);
    await fh.sync();
    await fh.close();
    fh = undefined;
    await rename(tmp, join(dir, name));
  } catch (err) {
    await fh?.close().catch(() => undefined);
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await syncDir(dir);
  return name;
}
