/**
 * store-records: the journal's record kinds, their msgpack meta, and how each
 * record changes a queued message. Replay (recovery) and the live store call
 * the same apply functions, so the index rebuilt after a crash is the index
 * the store held. Encoding throws only on values msgpack cannot carry;
 * decoding returns undefined for a malformed meta.
 */
import { Packr } from 'msgpackr';
import type { AdminAction, NewMessage, QueuedMessage, QueuedRecipient, RecipientOutcome } from './store-types.js';
import { encodeFrame, type EncodedFrame } from './store-frame.js';
import { MessageMetaPacker } from './store-meta-pack.js';

/** Record kinds, one byte on disk. */
export const KIND = {
  /** A message: envelope meta + content blob; also a compaction copy with current states. */
  MESSAGE: 1,
  OUTCOMES: 2,
  HOLD: 3,
  RELEASE: 4,
  REQUEUE: 5,
  DONE: 6,
  /** A message whose body is in a file of its own (meta.bodyFile); the blob is its header section. */
  MESSAGE_FILE: 7,
} as const;

const packr = new Packr({ useRecords: false, variableMapSize: true });

/** The meta of a message record: a QueuedMessage without size and location. */
export type MessageMeta = Omit<QueuedMessage, 'size' | 'location'>;

/** Meta of every other record. */
export interface ChangeMeta {
  i: string;
  o?: RecipientOutcome[];
  /** With outcomes: the recipients a failure notice listed (QueuedRecipient.failureNotified). */
  n?: number[];
  /** Why a message is done ("delete" for an admin delete). */
  w?: string;
}

/** The meta a new message is recorded with: every recipient ready. */
export function newMessageMeta(m: NewMessage): MessageMeta {
  const recipients: QueuedRecipient[] = m.recipients.map((r) => {
    const q: QueuedRecipient = { address: r.address, state: 'ready', attempts: 0 };
    if (r.orcpt !== undefined) q.orcpt = r.orcpt;
    if (r.notify !== undefined) q.notify = r.notify;
    if (r.origRcpt !== undefined) q.origRcpt = r.origRcpt;
    return q;
  });
  const meta: MessageMeta = {
    queueId: m.queueId,
    arrivalTime: m.arrivalTime,
    sender: m.sender,
    recipients,
    client: clientMeta(m.client),
    hold: m.hold === true,
    headerLength: m.headerLength,
  };
  if (m.envid !== undefined) meta.envid = m.envid;
  if (m.ret !== undefined) meta.ret = m.ret;
  if (m.smtputf8 !== undefined) meta.smtputf8 = m.smtputf8;
  if (m.bodyType !== undefined) meta.bodyType = m.bodyType;
  if (m.requiretls !== undefined) meta.requiretls = m.requiretls;
  if (m.tlsRequiredNo !== undefined) meta.tlsRequiredNo = m.tlsRequiredNo;
  if (m.filter !== undefined) meta.filter = m.filter;
  if (m.verify === true) meta.verify = true;
  if (m.bodyFile !== undefined) meta.bodyFile = { offset: m.bodyFile.offset, length: m.bodyFile.length };
  return meta;
}

/** A client record without undefined fields, built field by field (no delete: it slows later reads). */
function clientMeta(c: NewMessage['client']): NewMessage['client'] {
  const o: NewMessage['client'] = { name: c.name, addr: c.addr, protocol: c.protocol };
  if (c.port !== undefined) o.port = c.port;
  if (c.helo !== undefined) o.helo = c.helo;
  if (c.saslUser !== undefined) o.saslUser = c.saslUser;
  return o;
}

/** The meta of a compaction copy: the message as the index holds it now. */
export function copyMeta(q: QueuedMessage): MessageMeta {
  const { size: _size, location: _location, ...rest } = q;
  return { ...rest, recipients: q.recipients.map((r) => stripUndefined({ ...r })) };
}

function stripUndefined<T extends object>(o: T): T {
  for (const k of Object.keys(o) as (keyof T)[]) if (o[k] === undefined) delete o[k];
  return o;
}

/** Frame of a message record; the content (the header section only, for a body in a file) is the blob. */
export function messageFrame(meta: MessageMeta, content: Uint8Array): EncodedFrame {
  return encodeFrame(meta.bodyFile ? KIND.MESSAGE_FILE : KIND.MESSAGE, packr.pack(meta), content);
}

const metaPacker = new MessageMetaPacker();

/**
 * Frame of a new message's record (the meta newMessageMeta would build),
 * packed without building the meta; msgpackr only for a message whose fields
 * have unexpected types.
 */
export function newMessageFrame(m: NewMessage): EncodedFrame {
  // A large message is rare: msgpackr's general path carries its body file reference.
  if (m.bodyFile) return messageFrame(newMessageMeta(m), m.content);
  const n = metaPacker.pack(m);
  if (n < 0) return messageFrame(newMessageMeta(m), m.content);
  return encodeFrame(KIND.MESSAGE, metaPacker.buf, m.content, n);
}

/** Frame of a change record (outcomes, hold, release, requeue, done). */
export function changeFrame(kind: number, meta: ChangeMeta): EncodedFrame {
  return encodeFrame(kind, packr.pack(meta));
}

/**
 * Unpacks the meta at buf[start, end); undefined when it is not a msgpack map.
 * Decoding in place keeps msgpackr's per-buffer DataView cache warm over a
 * whole segment instead of building one per record.
 */
export function decodeMeta(buf: Buffer, start = 0, end = buf.length): Record<string, unknown> | undefined {
  if (end <= start) return undefined;
  try {
    const v: unknown = packr.unpack(buf, { start, end });
    return v !== null && typeof v === 'object' && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** True when a decoded message meta has the fields the index relies on. */
export function isMessageMeta(v: Record<string, unknown>): v is MessageMeta & Record<string, unknown> {
  return typeof v.queueId === 'string' && typeof v.arrivalTime === 'number' && typeof v.sender === 'string' &&
    Array.isArray(v.recipients) && v.recipients.every(isRecipient) &&
    typeof v.client === 'object' && v.client !== null && typeof v.headerLength === 'number';
}

/** The body file reference of a decoded message meta, or undefined when it has none or a malformed one. */
export function bodyFileOf(v: Record<string, unknown>): { offset: number; length: number } | undefined {
  const f = v.bodyFile as Record<string, unknown> | undefined;
  if (f === null || typeof f !== 'object') return undefined;
  const { offset, length } = f;
  if (!Number.isSafeInteger(offset) || !Number.isSafeInteger(length) || (offset as number) < 0 || (length as number) < 0) return undefined;
  return { offset: offset as number, length: length as number };
}

function isRecipient(r: unknown): boolean {
  if (r === null || typeof r !== 'object') return false;
  const q = r as Record<string, unknown>;
  return typeof q.address === 'string' && typeof q.state === 'string' && typeof q.attempts === 'number';
}

/**
 * True when nothing is left to do: every recipient delivered, or failed
 * (bounced, expired) and listed in a failure notice. qmgr marks a failed
 * recipient as listed once bounce has queued its notice, so a message is
 * kept until then, and a crash before it loses no notice.
 */
export function isFinished(q: QueuedMessage): boolean {
  for (const r of q.recipients) {
    if (r.state === 'ready' || r.state === 'deferred') return false;
    if ((r.state === 'bounced' || r.state === 'expired') && r.failureNotified !== true) return false;
  }
  return true;
}

/**
 * Applies outcomes to a message in place; out-of-range indexes are ignored.
 * The relay, reply and command are those of the last outcome (dropped when
 * it has none), so a bounced recipient keeps the next hop that refused it,
 * and what it said, until its notice.
 */
export function applyOutcomes(q: QueuedMessage, outcomes: readonly RecipientOutcome[], noticed?: readonly number[]): void {
  for (const o of outcomes) {
    if (o === null || typeof o !== 'object') continue;
    const r = q.recipients[o.index];
    if (!r) continue;
    r.state = o.state;
    r.reason = o.reason;
    r.dsn = o.dsn;
    if (typeof o.relay === 'string') r.relay = o.relay;
    else delete r.relay;
    if (typeof o.reply === 'string') r.reply = o.reply;
    else delete r.reply;
    if (typeof o.command === 'string') r.command = o.command;
    else delete r.command;
    if (o.state !== 'expired') r.attempts++;
    if (o.state === 'deferred' && o.nextAttempt !== undefined) r.nextAttempt = o.nextAttempt;
    else delete r.nextAttempt;
    if (o.delayNotified) r.delayNotified = true;
  }
  delete q.forcedRetry;
  if (noticed) {
    for (const i of noticed) {
      const r = Number.isInteger(i) ? q.recipients[i] : undefined;
      if (r) r.failureNotified = true;
    }
  }
}

/** Applies an admin action other than delete to a message in place. */
export function applyAdmin(q: QueuedMessage, action: Exclude<AdminAction, 'delete'>): void {
  if (action === 'hold') q.hold = true;
  else if (action === 'release') q.hold = false;
  else {
    // Postfix's requeue: deferred recipients become eligible now.
    for (const r of q.recipients) {
      if (r.state === 'deferred') {
        r.state = 'ready';
        delete r.nextAttempt;
      }
    }
    q.forcedRetry = true;
  }
}
