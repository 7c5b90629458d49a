/**
 * unwritten-buffers: what is left of a gathered write (writev) after a short
 * write of `written` bytes, without copying: whole buffers already written
 * are dropped and the first partly written one is sliced.
 */
export function unwrittenBuffers<T extends Uint8Array>(buffers: readonly T[], written: number): T[] {
  const out: T[] = [];
  for (const b of buffers) {
    if (written >= b.length) {
      written -= b.length;
      continue;
    }
    out.push(written > 0 ? (b.subarray(written) as T) : b);
    written = 0;
  }
  return out;
}
