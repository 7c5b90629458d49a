/**
 * wire: the encoding of actor messages on MessageChannels. Every post is one
 * msgpack buffer holding an array of frames (a batch); the buffer is a
 * right-sized copy of what the packer returned, and its ArrayBuffer is moved
 * (transfer list), never cloned. decodeBatch throws WireError on bytes that
 * are not a batch; the caller drops that post and logs it.
 */
import { Packr } from 'msgpackr';
import type { MessagePort } from 'node:worker_threads';

/** Frame tags. */
export const REQ = 0;
export const CAST = 1;
export const OK = 2;
export const ERR = 3;

export type RequestFrame = [typeof REQ, number, string, unknown];
export type CastFrame = [typeof CAST, string, unknown];
export type OkFrame = [typeof OK, number, unknown];
/** [ERR, id, message, code, retryable, remoteCode] */
export type ErrFrame = [typeof ERR, number, string, string, boolean, string | undefined];
export type Frame = RequestFrame | CastFrame | OkFrame | ErrFrame;

export class WireError extends Error {
  readonly code = 'ERR_WIRE';
}

// One packer per thread; records off so every thread decodes every buffer alone.
const packr = new Packr({ useRecords: false, moreTypes: false });

/**
 * Packs a value into a fresh Uint8Array that owns its whole ArrayBuffer.
 * pack() returns a view into the packer's reusable buffer, which the next
 * pack overwrites, so the bytes are copied once here, then moved by transfer.
 * (Buffer.from would take small copies from the shared pool, whose
 * ArrayBuffer must never be transferred.)
 */
export function encode(value: unknown): Uint8Array {
  const view = packr.pack(value);
  // Not zero-filled first (every byte is written by the copy), and an ArrayBuffer of its own, never the pool's.
  const copy = Buffer.allocUnsafeSlow(view.length);
  copy.set(view);
  return copy;
}

export function decode(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}

/** Batches whose binary payloads exceed this go out one frame per post. */
const LARGE_BATCH_BYTES = 256 * 1024;

/**
 * Binary bytes in a frame's body (the body itself or its fields two levels
 * down): a cheap size estimate, run on every frame of every batch, so it
 * walks the keys in place rather than making arrays of the values.
 */
function binaryBytes(frame: Frame): number {
  const body = frame[0] === REQ ? frame[3] : frame[0] === ERR ? undefined : frame[2];
  if (!body || typeof body !== 'object') return 0;
  if (ArrayBuffer.isView(body)) return body.byteLength;
  let n = 0;
  const fields = body as Record<string, unknown>;
  for (const k in fields) {
    const v = fields[k];
    if (ArrayBuffer.isView(v)) n += v.byteLength;
    else if (v && typeof v === 'object' && !Array.isArray(v)) {
      const inner = v as Record<string, unknown>;
      for (const j in inner) {
        const w = inner[j];
        if (ArrayBuffer.isView(w)) n += w.byteLength;
      }
    }
  }
  return n;
}

/**
 * Posts a batch of frames, moving its buffer to the other side. A batch
 * carrying large binaries goes out one frame per post instead: msgpackr
 * slows down badly when one pack() grows to megabytes, and batching saves
 * nothing when the payload dominates (measured in perf/runtime).
 */
export function postBatch(port: MessagePort, frames: Frame[]): void {
  if (frames.length > 1) {
    let big = 0;
    for (const f of frames) big += binaryBytes(f);
    if (big >= LARGE_BATCH_BYTES) {
      for (const f of frames) {
        const one = encode([f]);
        port.postMessage(one, [one.buffer as ArrayBuffer]);
      }
      return;
    }
  }
  const bytes = encode(frames);
  port.postMessage(bytes, [bytes.buffer as ArrayBuffer]);
}

/** Decodes one post into its frames. */
export function decodeBatch(data: unknown): Frame[] {
  if (!(data instanceof Uint8Array)) throw new WireError('post is not a msgpack buffer');
  let value: unknown;
  try {
    value = decode(data);
  } catch (err) {
    throw new WireError(`undecodable post: ${(err as Error).message}`);
  }
  if (!Array.isArray(value)) throw new WireError('post is not a batch of frames');
  return value as Frame[];
}
