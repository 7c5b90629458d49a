/**
 * store-resync: how recovery finds its way through a damaged segment.
 * A frame whose length fails its check word may have lost only one of the
 * two words: repairHeader takes the length from the other and keeps the
 * frame when its checksum then agrees. Otherwise findNextFrame looks for the
 * next frame whose length, length check and checksum all agree, so only the
 * damaged bytes are lost, not the rest of the segment. damagedRecords reads
 * what it can of the records in the damaged bytes (message ids, so that
 * recovery can say which messages were lost). dataEnd tells data from the
 * zeros a pre-sized segment ends with.
 *
 * Bounded time: findNextFrame tries every byte position once with two
 * 32-bit reads and verifies a checksum only where the length and its check
 * agree, which random or text bytes almost never do (2^-32 a position); a
 * segment crafted to agree at many positions exhausts the caller's budget
 * of checksum bytes (a small multiple of the segment), and the search then
 * gives up rather than turn quadratic. Nothing here throws or allocates per
 * position.
 */
import { crc32 } from 'node:zlib';
import { BODY_HEADER, FRAME_HEADER, FRAME_MAGIC, MAX_BODY, scanFrame } from './store-frame.js';
import { scanMessageMeta, type MetaSummary } from './store-meta-scan.js';
import { decodeMeta, KIND } from './store-records.js';

/** Checksum bytes a segment's searches may still verify; shared by every search in one segment. */
export interface ResyncBudget {
  crcBytes: number;
}

/** A budget for a segment of `bytes`: twice its size, plus room for a small segment's few frames. */
export function resyncBudget(bytes: number): ResyncBudget {
  return { crcBytes: 2 * bytes + 1024 * 1024 };
}

/** What findNextFrame found. */
export interface Resync {
  /** Offset of the next intact frame, or -1 when there is none (or the budget ran out). */
  at: number;
  /** The search gave up on its budget: frames after `from` may be intact all the same. */
  exhausted: boolean;
  /** Offsets in between whose length and check agree but whose frame does not: damaged frames, for damagedRecords. */
  suspects: number[];
}

/** Suspects kept per search: enough to name the messages of any real damage. */
const MAX_SUSPECTS = 4096;

function u32(buf: Buffer, at: number): number {
  return (buf[at] | (buf[at + 1] << 8) | (buf[at + 2] << 16) | (buf[at + 3] << 24)) >>> 0;
}

/**
 * For a frame at `offset` whose length fails its check word: takes the
 * length from the check word (the length word was hit) or the check word
 * from the length (the check word was hit), and keeps the one whose body
 * then passes the frame's checksum. Fixes both words in `buf` and returns
 * true; false when neither agrees (the caller then resynchronises).
 */
export function repairHeader(buf: Buffer, offset: number, budget: ResyncBudget): boolean {
  if (offset + FRAME_HEADER + BODY_HEADER > buf.length) return false;
  const fromCheck = (u32(buf, offset + 4) ^ FRAME_MAGIC) >>> 0;
  const fromLength = u32(buf, offset);
  const crc = u32(buf, offset + 8);
  for (const length of [fromCheck, fromLength]) {
    if (length < BODY_HEADER || length > MAX_BODY || offset + FRAME_HEADER + length > buf.length) continue;
    budget.crcBytes -= length;
    if (budget.crcBytes < 0) return false;
    const start = offset + FRAME_HEADER;
    if (crc32(buf.subarray(start, start + length)) !== crc) continue;
    if (BODY_HEADER + u32(buf, start + 1) > length) continue;
    buf.writeUInt32LE(length, offset);
    buf.writeUInt32LE((length ^ FRAME_MAGIC) >>> 0, offset + 4);
    return true;
  }
  return false;
}

/**
 * The first offset in [from, dataEnd) where a whole frame is intact (its
 * length, length check and checksum agree). A frame may end past dataEnd
 * (a padding frame's body is zeros), not past the buffer.
 */
export function findNextFrame(buf: Buffer, from: number, dataEnd: number, budget: ResyncBudget): Resync {
  const suspects: number[] = [];
  const lastStart = Math.min(dataEnd, buf.length - FRAME_HEADER - BODY_HEADER + 1);
  for (let p = from; p < lastStart; p++) {
    const length = u32(buf, p);
    if (((length ^ FRAME_MAGIC) >>> 0) !== u32(buf, p + 4)) continue;
    if (length >= BODY_HEADER && length <= MAX_BODY && p + FRAME_HEADER + length <= buf.length) {
      budget.crcBytes -= length;
      if (budget.crcBytes < 0) return { at: -1, exhausted: true, suspects };
      if (scanFrame(buf, p).status === 'ok') return { at: p, exhausted: false, suspects };
    }
    if (suspects.length < MAX_SUSPECTS) suspects.push(p);
  }
  return { at: -1, exhausted: false, suspects };
}

const ZEROS = Buffer.alloc(64 * 1024);

/** Just past the last non-zero byte at or after `from` (`from` when there is none); memcmp-fast over a pre-sized segment's zeros. */
export function dataEnd(buf: Buffer, from: number): number {
  let end = buf.length;
  while (end > from) {
    const start = Math.max(from, end - ZEROS.length);
    if (buf.compare(ZEROS, 0, end - start, start, end) !== 0) break;
    end = start;
  }
  while (end > from && buf[end - 1] === 0) end--;
  return end;
}

/** What could be read of the records in a damaged range. */
export interface DamagedRecords {
  /** Queue ids of the message records found in it. */
  messages: string[];
  /** Records of which nothing could be read (not even whether they held a message). */
  unreadable: number;
}

const summary: MetaSummary = { queueId: '', hold: false, ready: false };

/**
 * Reads the record bodies at `starts` (the damaged frame's own start, then
 * the suspects) within buf[start, end): a message record's queue id when its
 * meta still scans, nothing for a change or padding record that still
 * decodes, an unreadable record otherwise. An id read from damaged bytes is
 * a best effort: the record failed its checksum.
 */
export function damagedRecords(buf: Buffer, end: number, starts: readonly number[]): DamagedRecords {
  const out: DamagedRecords = { messages: [], unreadable: 0 };
  for (const at of starts) {
    const body = at + FRAME_HEADER;
    if (body + BODY_HEADER > end) {
      out.unreadable++;
      continue;
    }
    const kind = buf[body];
    const metaEnd = body + BODY_HEADER + u32(buf, body + 1);
    if (metaEnd > end) {
      out.unreadable++;
    } else if (kind === KIND.MESSAGE || kind === KIND.MESSAGE_FILE) {
      if (scanMessageMeta(buf, body + BODY_HEADER, metaEnd, summary)) out.messages.push(summary.queueId);
      else out.unreadable++;
    } else if (kind === 0) {
      // Padding: nothing was lost with it.
    } else if (kind > KIND.MESSAGE && kind <= KIND.DONE) {
      if (typeof decodeMeta(buf, body + BODY_HEADER, metaEnd)?.i !== 'string') out.unreadable++;
    } else {
      out.unreadable++;
    }
  }
  return out;
}
