/**
 * store-segment: names and paths of the journal's segment files
 * (ROOT/journal/NNNNNNNNNN.seg, numbered upward, never reused while the
 * newest one exists), the corrupt area, the queue shards' roots, and
 * directory fsync. Listing ignores files that are not segments.
 *
 * Queue shards: shard 0 is rooted at the queue directory itself (the layout
 * of an unsharded queue, so a queue made before sharding is shard 0 as it
 * lies), shard N > 0 at QUEUEDIR/shards/N, each with its own journal/ and
 * corrupt/. listShards() names every shard found on disk, so that none is
 * left unserved when the configured count changes.
 */
import { readdirSync } from 'node:fs';
import { open, readdir } from 'node:fs/promises';
import { join } from 'node:path';
import type { BodyLocation } from './store-types.js';

export const JOURNAL_DIR = 'journal';
export const CORRUPT_DIR = 'corrupt';
/** Each shard's bodies kept in files of their own (large messages), named by queue id. */
export const LARGE_DIR = 'large';
/** Under the queue directory: large messages being received, named by queue id, until the store moves them to a shard's large/. */
export const SPOOL_DIR = 'spool';
/** Where shards 1 and up live under the queue directory. */
export const SHARDS_DIR = 'shards';
/** The most shards a queue may have (queue_shard_count's bound). */
export const MAX_SHARDS = 256;
const SEGMENT_RE = /^(\d{10})\.seg$/;
const SHARD_RE = /^(0|[1-9]\d{0,2})$/;

/** The directory shard `shard` keeps its journal/ and corrupt/ in. */
export function shardRoot(queueDir: string, shard: number): string {
  return shard === 0 ? queueDir : join(queueDir, SHARDS_DIR, String(shard));
}

/**
 * The shard numbers found on disk besides 0 (always a shard), ascending:
 * QUEUEDIR/shards/N for N in 1 .. MAX_SHARDS - 1. A missing shards/
 * directory means none; other names in it are ignored.
 */
export function listShards(queueDir: string): number[] {
  let names: string[];
  try {
    names = readdirSync(join(queueDir, SHARDS_DIR));
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return [0];
    throw err;
  }
  const found = new Set([0]);
  for (const name of names) {
    const m = SHARD_RE.exec(name);
    if (m && Number(m[1]) < MAX_SHARDS) found.add(Number(m[1]));
  }
  return [...found].sort((a, b) => a - b);
}

/** The segment file a content location lies in. */
export function locationPath(queueDir: string, location: BodyLocation): string {
  return segmentPath(shardRoot(queueDir, location.shard ?? 0), location.segment);
}

/** The body file `name` of a shard (a content location's file). */
export function bodyFilePath(queueDir: string, shard: number | undefined, name: string): string {
  return join(shardRoot(queueDir, shard ?? 0), LARGE_DIR, name);
}

/** The spool file a large message is received into. */
export function spoolPath(queueDir: string, queueId: string): string {
  return join(queueDir, SPOOL_DIR, queueId);
}

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
