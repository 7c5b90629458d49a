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
  const copy = new Uint8Array(view.length);
  copy.set(view);
  return copy;
}

export function decode(bytes: Uint8Array): unknown {
  return packr.unpack(bytes);
}

/** Posts one batch of frames, moving its buffer to the other side. */
export function postBatch(port: MessagePort, frames: Frame[]): void {
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
