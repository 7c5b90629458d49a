/**
 * store-segment: names and paths of the journal's segment files
 * (QUEUEDIR/journal/NNNNNNNNNN.seg, numbered upward, never reused while the
 * newest one exists), the corrupt area, and directory fsync. Listing ignores
 * files that are not segments.
 */
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';

export const JOURNAL_DIR = 'journal';
export const CORRUPT_DIR = 'corrupt';
const SEGMENT_RE = /^(\d{10})\.seg$/;

/** The file name of segment `n`. */
export function segmentName(n: number): string {
  return `${String(n).padStart(10, '0')}.seg`;
}

/** The path of segment `n` under a queue directory. */
export function segmentPath(queueDir: string, n: number): string {
  return join(queueDir, JOURNAL_DIR, segmentName(n));
}

/** Segment numbers present in QUEUEDIR/journal, ascending. */
export async function listSegments(queueDir: string): Promise<number[]> {
  const names = await readdir(join(queueDir, JOURNAL_DIR));
  const out: number[] = [];
  for (const name of names) {
    const m = SEGMENT_RE.exec(name);
    if (m) out.push(Number(m[1]));
  }
  return out.sort((a, b) => a - b);
}

/** Makes a directory's entries durable (a new or removed file survives a crash). */
export async function syncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
