/**
 * store-frame: the journal's framed record, the one unsafe primitive the
 * store stands on.
 *
 *   u32 length | u32 length ^ FRAME_MAGIC | u32 crc32(body) | body
 *   body = u8 kind | u32 metaLength | meta (msgpack) | blob (raw bytes)
 *
 * All integers are little-endian. A frame whose first 12 bytes are zero is
 * the end of data (segments are pre-sized with zeros). The length check word
 * tells a torn or flipped length apart from a real one, so a scanner knows
 * when it cannot follow the lengths any further and must repair the length
 * or search for the next intact frame (store-resync). The blob carries a message's
 * content, so readers can fetch it by (segment, offset, length) alone.
 * Decoding never throws: it returns a status the scanner acts on.
 */
import { crc32 } from 'node:zlib';

/** Bytes before the body. */
export const FRAME_HEADER = 12;
/** Bytes of a body before its meta. */
export const BODY_HEADER = 5;
/** Mixed into the length check word; any constant with bits in every byte. */
export const FRAME_MAGIC = 0x5052_4a31;
/** Largest body a frame may hold (a larger length is corrupt). */
export const MAX_BODY = 0x7fff_0000;

/** Encoded frame parts, ready for writev: `head` then `blob` (may be empty). */
export interface EncodedFrame {
  head: Buffer;
  blob: Uint8Array | undefined;
  /** Total bytes of the frame on disk. */
  size: number;
  /** Offset of the blob from the frame's start. */
  blobOffset: number;
  /** Where the writer put it: set once the frame is durable, -1 before. */
  segment: number;
  offset: number;
}

/**
 * Builds a frame from a kind, its packed meta meta[0, metaLength) and an
 * optional blob, without copying the blob.
 */
export function encodeFrame(kind: number, meta: Uint8Array, blob?: Uint8Array, metaLength = meta.length): EncodedFrame {
  const blobLength = blob ? blob.length : 0;
  const bodyLength = BODY_HEADER + metaLength + blobLength;
  const head = Buffer.allocUnsafe(FRAME_HEADER + BODY_HEADER + metaLength);
  head.writeUInt32LE(bodyLength, 0);
  head.writeUInt32LE((bodyLength ^ FRAME_MAGIC) >>> 0, 4);
  head.writeUInt8(kind, FRAME_HEADER);
  head.writeUInt32LE(metaLength, FRAME_HEADER + 1);
  // A byte loop: a few hundred bytes, and no view object made per record.
  for (let i = 0, at = FRAME_HEADER + BODY_HEADER; i < metaLength; i++) head[at++] = meta[i];
  let crc = crc32Range(head, FRAME_HEADER, head.length);
  if (blobLength > 0) crc = crc32(blob as Uint8Array, crc);
  head.writeUInt32LE(crc, 8);
  return {
    head,
    blob: blobLength > 0 ? blob : undefined,
    size: FRAME_HEADER + bodyLength,
    blobOffset: FRAME_HEADER + BODY_HEADER + metaLength,
    segment: -1,
    offset: -1,
  };
}

const CRC_TABLE = new Int32Array(256);
for (let n = 0; n < 256; n++) {
  let c = n;
  for (let k = 0; k < 8; k++) c = c & 1 ? 0xedb88320 ^ (c >>> 1) : c >>> 1;
  CRC_TABLE[n] = c;
}

/**
 * zlib's crc32 of buf[from, to), in JavaScript: for the few hundred bytes of
 * a record's head this costs less than the view object zlib would need.
 */
export function crc32Range(buf: Uint8Array, from: number, to: number): number {
  let c = -1;
  for (let i = from; i < to; i++) c = CRC_TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return ~c >>> 0;
}

/** What the scanner found at an offset. */
export type FrameScan =
  | { status: 'ok'; kind: number; metaStart: number; metaEnd: number; blobOffset: number; blobLength: number; end: number }
  /** Zero header or no room for a header: no more data in this segment. */
  | { status: 'end' }
  /** The length fails its check word: the next frame's start is not known (store-resync finds it). */
  | { status: 'bad-length' }
  /** The length runs past the data we have: a torn write at the tail. */
  | { status: 'short'; end: number }
  /** The length is sound but the checksum fails (or the body is malformed). */
  | { status: 'bad-crc'; end: number };

/** Reads the frame at `offset` in `buf` (a whole segment's data). */
export function scanFrame(buf: Buffer, offset: number): FrameScan {
  if (offset + FRAME_HEADER > buf.length) {
    return isZero(buf, offset, buf.length) ? { status: 'end' } : { status: 'short', end: buf.length };
  }
  const length = buf.readUInt32LE(offset);
  const check = buf.readUInt32LE(offset + 4);
  const crc = buf.readUInt32LE(offset + 8);
  if (length === 0 && check === 0 && crc === 0) return { status: 'end' };
  if (((length ^ FRAME_MAGIC) >>> 0) !== check || length < BODY_HEADER || length > MAX_BODY) {
    return { status: 'bad-length' };
  }
  const start = offset + FRAME_HEADER;
  const end = start + length;
  if (end > buf.length) return { status: 'short', end: buf.length };
  if (crc32(buf.subarray(start, end)) !== crc) return { status: 'bad-crc', end };
  const kind = buf.readUInt8(start);
  const metaLength = buf.readUInt32LE(start + 1);
  if (BODY_HEADER + metaLength > length) return { status: 'bad-crc', end };
  const metaStart = start + BODY_HEADER;
  return {
    status: 'ok',
    kind,
    metaStart,
    metaEnd: metaStart + metaLength,
    blobOffset: metaStart + metaLength,
    blobLength: end - metaStart - metaLength,
    end,
  };
}

/** True when buf[from, to) holds only zero bytes. */
export function isZero(buf: Buffer, from: number, to: number): boolean {
  for (let i = from; i < to; i++) if (buf[i] !== 0) return false;
  return true;
}
