/**
 * store-recovery: replays every journal segment in order and rebuilds the
 * index. A torn tail (a frame cut short, or failing its checksum with nothing
 * after it) is truncated away. A record that fails its checksum in the middle
 * is copied to QUEUEDIR/corrupt/ (one file per record), overwritten in place
 * with padding so it is not reported again, logged, and the scan goes on. A
 * frame length that fails its check means the rest of the segment cannot be
 * trusted: the rest is copied to one corrupt file and the segment is cut
 * there. Only failures to read or write the queue directory itself throw.
 */
import { open } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../util/log.js';
import { openPrivate, PRIVATE_FILE_MODE } from '../util/private-files.js';
import { BODY_HEADER, encodeFrame, FRAME_HEADER, scanFrame } from './store-frame.js';
import type { QueueIndex } from './store-index.js';
import { scanMessageMeta, type MetaSummary } from './store-meta-scan.js';
import {
  applyAdmin, applyOutcomes, decodeMeta, isFinished, KIND, type ChangeMeta,
} from './store-records.js';
import { CORRUPT_DIR, listSegments, segmentName, segmentPath, syncDir } from './store-segment.js';
import type { QueuedMessage, RecipientOutcome } from './store-types.js';

/** What recovery found; QueueStore.recovery. */
export interface RecoveryReport {
  segments: number;
  records: number;
  messages: number;
  corrupt: number;
  tornTailBytes: number;
  ms: number;
}

/** Per-segment data size after recovery (bytes up to the end of good data). */
export type SegmentSizes = Map<number, number>;

/** Replays the journal into `index`; returns the report and each segment's data size. */
export async function recoverJournal(
  queueDir: string, index: QueueIndex, log: Logger | undefined,
): Promise<{ report: RecoveryReport; sizes: SegmentSizes }> {
  const t0 = performance.now();
  const report: RecoveryReport = { segments: 0, records: 0, messages: 0, corrupt: 0, tornTailBytes: 0, ms: 0 };
  const sizes: SegmentSizes = new Map();
  const segments = await listSegments(queueDir);
  // Read the next segment while this one is replayed: the disk and the CPU
  // overlap. Two buffers take turns, so a long journal is not a long run of
  // fresh 64 MiB allocations (the index keeps copies of what it needs).
  const buffers: (Buffer | undefined)[] = [undefined, undefined];
  const load = (i: number): Promise<Buffer> => readSegment(segmentPath(queueDir, segments[i]), buffers, i % 2);
  let next = segments.length > 0 ? load(0) : undefined;
  for (let i = 0; i < segments.length; i++) {
    const buf = await (next as Promise<Buffer>);
    next = i + 1 < segments.length ? load(i + 1) : undefined;
    // A failed read-ahead is reported when its turn comes, not as an unhandled rejection.
    next?.catch(() => undefined);
    report.segments++;
    sizes.set(segments[i], await replaySegment(queueDir, segments[i], buf, index, report, log));
  }
  report.messages = index.size;
  report.ms = Math.round(performance.now() - t0);
  return { report, sizes };
}

async function replaySegment(
  queueDir: string, segment: number, buf: Buffer, index: QueueIndex, report: RecoveryReport, log: Logger | undefined,
): Promise<number> {
  const path = segmentPath(queueDir, segment);
  let offset = 0;
  for (;;) {
    const f = scanFrame(buf, offset);
    if (f.status === 'end') return offset;
    if (f.status === 'ok') {
      report.records++;
      if (!applyRecord(index, segment, f.kind, buf, f.metaStart, f.metaEnd, f.blobOffset, f.blobLength)) {
        await quarantine(queueDir, segment, offset, buf.subarray(offset, f.end), 'malformed record', log);
        await padRecord(path, offset, f.end - offset - FRAME_HEADER);
        report.corrupt++;
      }
      offset = f.end;
      continue;
    }
    if (f.status === 'bad-crc' && scanFrame(buf, f.end).status !== 'end') {
      await quarantine(queueDir, segment, offset, buf.subarray(offset, f.end), 'checksum mismatch', log);
      await padRecord(path, offset, f.end - offset - FRAME_HEADER);
      report.corrupt++;
      offset = f.end;
      continue;
    }
    const dataEnd = lastNonZero(buf, offset);
    if (f.status === 'bad-length') {
      await quarantine(queueDir, segment, offset, buf.subarray(offset, dataEnd), 'bad frame length, rest of segment', log);
      report.corrupt++;
    } else {
      report.tornTailBytes += dataEnd - offset;
      log?.warning(`journal ${segmentName(segment)}: torn tail of ${dataEnd - offset} bytes at offset ${offset} truncated`);
    }
    await cutSegment(path, offset);
    return offset;
  }
}

const summary: MetaSummary = { queueId: '', hold: false, ready: false };

/**
 * Applies one good record; false when its meta is malformed. A message is
 * checked and indexed without decoding it (packed); a change decodes only
 * its own small meta, and unpacks the message it changes.
 */
function applyRecord(
  index: QueueIndex, segment: number, kind: number, buf: Buffer, metaStart: number, metaEnd: number, blobOffset: number, blobLength: number,
): boolean {
  if (kind === 0) return true;
  if (kind === KIND.MESSAGE) {
    if (!scanMessageMeta(buf, metaStart, metaEnd, summary)) return false;
    index.putPacked(summary.queueId, buf, metaStart, metaEnd, summary.hold, summary.ready,
      { segment, offset: blobOffset, length: blobLength });
    return true;
  }
  const meta = decodeMeta(buf, metaStart, metaEnd);
  if (!meta) return false;
  const change = meta as unknown as ChangeMeta;
  if (typeof change.i !== 'string') return false;
  if (!index.has(change.i)) return true;
  if (kind === KIND.DONE) {
    index.remove(change.i);
    return true;
  }
  if (kind === KIND.OUTCOMES && !Array.isArray(change.o)) return false;
  if (kind < KIND.OUTCOMES || kind > KIND.DONE) return true;
  const q = index.promote(change.i) as QueuedMessage;
  switch (kind) {
    case KIND.OUTCOMES:
      applyOutcomes(q, change.o as RecipientOutcome[], Array.isArray(change.n) ? change.n : undefined);
      // A lost "done" after the last outcome: finished all the same.
      if (isFinished(q)) index.remove(change.i);
      return true;
    case KIND.HOLD: applyAdmin(q, 'hold'); return true;
    case KIND.RELEASE: applyAdmin(q, 'release'); return true;
    case KIND.REQUEUE: applyAdmin(q, 'requeue'); return true;
    default: return true;
  }
}

const READ_CHUNK = 16 * 1024 * 1024;

/**
 * Reads a whole segment into buffers[slot] (grown as needed); the bytes
 * read. A segment left more open than 0600 (by an older version, which
 * trusted the umask) is made 0600: it holds message bodies.
 */
async function readSegment(path: string, buffers: (Buffer | undefined)[], slot: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const st = await fh.stat();
    if ((st.mode & 0o777) !== PRIVATE_FILE_MODE) await fh.chmod(PRIVATE_FILE_MODE);
    const size = st.size;
    let buf = buffers[slot];
    if (!buf || buf.length < size) {
      buf = Buffer.allocUnsafeSlow(size);
      buffers[slot] = buf;
    }
    let got = 0;
    while (got < size) {
      const { bytesRead } = await fh.read(buf, got, Math.min(READ_CHUNK, size - got), got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got);
  } finally {
    await fh.close();
  }
}

/** Index just past the last non-zero byte at or after `from` (at least `from`). */
function lastNonZero(buf: Buffer, from: number): number {
  let i = buf.length;
  while (i > from && buf[i - 1] === 0) i--;
  return i;
}

async function quarantine(queueDir: string, segment: number, offset: number, bytes: Buffer, why: string, log: Logger | undefined): Promise<void> {
  const dir = join(queueDir, CORRUPT_DIR);
  const name = `${segmentName(segment).replace('.seg', '')}-${offset}`;
  const fh = await openPrivate(join(dir, name), 'w');
  try {
    await fh.writeFile(bytes);
    await fh.sync();
  } finally {
    await fh.close();
  }
  await syncDir(dir);
  log?.warning(`journal ${segmentName(segment)}: ${why} at offset ${offset}, ${bytes.length} bytes saved as ${CORRUPT_DIR}/${name}`);
}

/** Overwrites a quarantined record with a valid padding frame (kind 0), so later scans pass it. */
async function padRecord(path: string, offset: number, bodyLength: number): Promise<void> {
  // Kind 0, no meta, a zero blob: an all-zero body of the record's length.
  const frame = encodeFrame(0, new Uint8Array(0), new Uint8Array(bodyLength - BODY_HEADER));
  const fh = await open(path, 'r+');
  try {
    await fh.writev(frame.blob ? [frame.head, frame.blob] : [frame.head], offset);
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

/** Cuts a segment back to its good data; the writer never appends to an old segment. */
async function cutSegment(path: string, offset: number): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.truncate(offset);
    await fh.datasync();
  } finally {
    await fh.close();
  }
}

