/**
 * store-recovery: replays every journal segment in order and rebuilds the
 * index. A record that fails its check is copied to QUEUEDIR/corrupt/ (one
 * file per damaged range), overwritten in place with a padding frame so it
 * is not reported again, logged, and the scan goes on from the next intact
 * frame (store-resync): a damaged frame length loses only the damaged
 * bytes, not the rest of the segment, and a length whose check word
 * survived is repaired in place. The torn tail rule stays: bad bytes with
 * no intact frame after them at the end of the journal's last data are a
 * write cut short by a crash (never acknowledged) and are truncated away;
 * the same in an earlier segment is damage, quarantined and cut. Once the
 * journal is replayed one warning names how many messages the damage lost
 * and their queue ids, where they could be read (a message whose record
 * was damaged but which was finished, or copied forward intact, is not
 * counted). A zero frame header followed by data is damage, not the end.
 * Then the body files beside the journal (large/) are reconciled with the
 * records: a file no live record names (a reception cut short after its
 * file was moved there, or a done message whose file was not yet deleted)
 * is deleted; a live record whose file is missing or short is corrupt: its
 * header section is quarantined, it is logged and counted as lost, and it
 * is dropped from the index (the store then journals it done).
 * Only failures to read or write the queue directory itself throw.
 *
 * readJournalReadOnly: the same replay for a reader while the daemon is
 * down (the queue listing): nothing is written, moved, cut or chmodded,
 * damage is skipped in memory only, and nothing is logged.
 */
import { open, readdir, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../util/log.js';
import { openPrivate, PRIVATE_FILE_MODE } from '../util/private-files.js';
import { BODY_HEADER, encodeFrame, FRAME_HEADER, scanFrame, type FrameScan } from './store-frame.js';
import type { QueueIndex } from './store-index.js';
import { scanMessageMeta, type MetaSummary } from './store-meta-scan.js';
import {
  applyAdmin, applyOutcomes, bodyFileOf, decodeMeta, isFinished, isMessageMeta, KIND, type ChangeMeta,
} from './store-records.js';
import { damagedRecords, dataEnd, findNextFrame, repairHeader, resyncBudget } from './store-resync.js';
import { CORRUPT_DIR, LARGE_DIR, listSegments, segmentName, segmentPath, syncDir } from './store-segment.js';
import type { QueuedMessage, RecipientOutcome } from './store-types.js';

/** What recovery found; QueueStore.recovery. */
export interface RecoveryReport {
  segments: number;
  records: number;
  messages: number;
  /** Damaged ranges and malformed records moved to the corrupt area. */
  corrupt: number;
  tornTailBytes: number;
  /** Frame lengths repaired from their check word (nothing lost). */
  repaired: number;
  /** Queue ids of messages lost with damaged records (read from the damaged bytes). */
  lostMessages: string[];
  /** Damaged records of which not even the kind or queue id could be read. */
  unreadableRecords: number;
  ms: number;
}

/** Per-segment data size after recovery (bytes up to the end of good data). */
export type SegmentSizes = Map<number, number>;

/** What one recovery carries from segment to segment. */
interface Replay {
  queueDir: string;
  index: QueueIndex;
  report: RecoveryReport;
  log: Logger | undefined;
  /** Message ids read from damaged records: lost unless a later copy or done record says otherwise. */
  lost: Set<string>;
  /** What recovery may change on disk; nothing for a read-only replay. */
  disk: DiskRepairs;
}

/** The writes recovery makes to damaged segments. */
interface DiskRepairs {
  quarantine: typeof quarantine;
  padRecord: typeof padRecord;
  writeAt: typeof writeAt;
  cutSegment: typeof cutSegment;
  /** Set a segment found more open than 0600 back to 0600. */
  fixModes: boolean;
}

const REPAIRS: DiskRepairs = { quarantine, padRecord, writeAt, cutSegment, fixModes: true };
const NO_REPAIRS: DiskRepairs = {
  quarantine: async () => undefined, padRecord: async () => undefined, writeAt: async () => undefined, cutSegment: async () => undefined, fixModes: false,
};

/** Most lost ids named in the warning; the count is always whole. */
const MAX_IDS_LOGGED = 100;

/** Replays the journal into `index`; returns the report and each segment's data size. */
export async function recoverJournal(
  queueDir: string, index: QueueIndex, log: Logger | undefined, disk: DiskRepairs = REPAIRS,
): Promise<{ report: RecoveryReport; sizes: SegmentSizes; missingBodies: string[] }> {
  const t0 = performance.now();
  const report: RecoveryReport = {
    segments: 0, records: 0, messages: 0, corrupt: 0, tornTailBytes: 0, repaired: 0, lostMessages: [], unreadableRecords: 0, ms: 0,
  };
  const replay: Replay = { queueDir, index, report, log, lost: new Set(), disk };
  const sizes: SegmentSizes = new Map();
  const segments = await listSegments(queueDir);
  // Read the next segment while this one is replayed: the disk and the CPU
  // overlap. Two buffers take turns, so a long journal is not a long run of
  // fresh 64 MiB allocations (the index keeps copies of what it needs).
  const buffers: (ReadBuffer | undefined)[] = [undefined, undefined];
  const load = (i: number): Promise<LoadedSegment> => readSegment(segmentPath(queueDir, segments[i]), buffers, i % 2, disk.fixModes);
  let next = segments.length > 0 ? load(0) : undefined;
  for (let i = 0; i < segments.length; i++) {
    const loaded = await (next as Promise<LoadedSegment>);
    next = i + 1 < segments.length ? load(i + 1) : undefined;
    // A failed read-ahead is reported when its turn comes, not as an unhandled rejection.
    next?.catch(() => undefined);
    report.segments++;
    // Asked only when a segment ends in bad bytes: is this the end of the journal's data?
    const atTail = async (): Promise<boolean> => !(await anyHoldsData(queueDir, segments.slice(i + 1)));
    sizes.set(segments[i], await replaySegment(replay, segments[i], loaded, atTail));
  }
  const missingBodies = disk.fixModes ? await reconcileBodyFiles(replay) : [];
  report.messages = index.size;
  for (const id of replay.lost) if (!index.has(id)) report.lostMessages.push(id);
  if (report.lostMessages.length > 0 || report.unreadableRecords > 0) log?.warning(lostLine(report));
  report.ms = Math.round(performance.now() - t0);
  return { report, sizes, missingBodies };
}

/**
 * Deletes body files no live record names; drops (and quarantines the
 * header section of) live records whose file is missing or short. Returns
 * the queue ids dropped.
 */
async function reconcileBodyFiles(replay: Replay): Promise<string[]> {
  const { queueDir, index, report, log, disk } = replay;
  const dir = join(queueDir, LARGE_DIR);
  let names: string[];
  try {
    names = await readdir(dir);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') names = [];
    else throw err;
  }
  const wanted = new Map<string, number>();
  index.forEachBodyFile((id, offset, length) => wanted.set(id, offset + length));
  let orphans = 0;
  for (const name of names) {
    if (wanted.has(name)) continue;
    await unlink(join(dir, name)).catch(() => undefined);
    orphans++;
  }
  if (orphans > 0) log?.info(`journal recovery: removed ${orphans} body file${orphans === 1 ? '' : 's'} that no record names`);
  const missing: string[] = [];
  for (const [id, end] of wanted) {
    let size = -1;
    try {
      size = (await stat(join(dir, id))).size;
    } catch {
      // Missing: size stays -1.
    }
    if (size >= end) continue;
    const at = index.location(id);
    if (!at) continue;
    const head = await readRange(segmentPath(queueDir, at.segment), at.offset, at.length).catch(() => Buffer.alloc(0));
    await disk.quarantine(queueDir, at.segment, at.offset, head, size < 0 ? `message ${id}: body file missing` : `message ${id}: body file short (${size} of ${end} bytes)`, log,
      'message dropped');
    index.remove(id);
    replay.lost.add(id);
    report.corrupt++;
    missing.push(id);
  }
  return missing;
}

async function readRange(path: string, offset: number, length: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.alloc(length);
    const { bytesRead } = await fh.read(buf, 0, length, offset);
    return buf.subarray(0, bytesRead);
  } finally {
    await fh.close();
  }
}

/** "journal recovery: 2 messages lost in damaged records: ID1, ID2; 1 damaged record whose queue id cannot be read". */
function lostLine(r: RecoveryReport): string {
  const n = r.lostMessages.length;
  let text = `journal recovery: ${n} message${n === 1 ? '' : 's'} lost in damaged records`;
  if (n > 0) {
    text += `: ${r.lostMessages.slice(0, MAX_IDS_LOGGED).join(', ')}`;
    if (n > MAX_IDS_LOGGED) text += ` and ${n - MAX_IDS_LOGGED} more`;
  }
  const u = r.unreadableRecords;
  if (u > 0) text += `; ${u} damaged record${u === 1 ? '' : 's'} whose queue id cannot be read`;
  return text;
}

/** Why a frame was not taken, for the log line. */
function damageName(f: FrameScan): string {
  switch (f.status) {
    case 'bad-crc': return 'checksum mismatch';
    case 'bad-length': return 'bad frame length';
    case 'short': return 'frame runs past the segment end';
    default: return 'zeroed frame header';
  }
}

async function replaySegment(replay: Replay, segment: number, loaded: LoadedSegment, atTail: () => Promise<boolean>): Promise<number> {
  const { queueDir, report, log, disk } = replay;
  const { buf, zerosFrom } = loaded;
  // The read already knows where the zero tail starts: it is not scanned again.
  const head = buf.subarray(0, zerosFrom);
  const path = segmentPath(queueDir, segment);
  const name = segmentName(segment);
  const budget = resyncBudget(buf.length);
  let offset = 0;
  for (;;) {
    const f = scanFrame(buf, offset);
    if (f.status === 'ok') {
      report.records++;
      if (!applyRecord(replay, segment, f.kind, buf, f.metaStart, f.metaEnd, f.blobOffset, f.blobLength)) {
        await disk.quarantine(queueDir, segment, offset, buf.subarray(offset, f.end), 'malformed record', log);
        await disk.padRecord(path, offset, f.end - offset - FRAME_HEADER);
        report.corrupt++;
        // Its checksum holds but its meta does not read: whatever it held is counted as unreadable.
        report.unreadableRecords++;
      }
      offset = f.end;
      continue;
    }
    const end = offset >= zerosFrom ? offset : dataEnd(head, offset);
    if (f.status === 'end' && end === offset) return offset;
    if (f.status === 'bad-length' && repairHeader(buf, offset, budget)) {
      await disk.writeAt(path, buf.subarray(offset, offset + 8), offset);
      report.repaired++;
      log?.warning(`journal ${name}: bad frame length at offset ${offset} repaired from its check word`);
      continue;
    }
    const next = findNextFrame(buf, offset + FRAME_HEADER + BODY_HEADER, end, budget);
    if (next.at < 0 && !next.exhausted && (await atTail())) {
      report.tornTailBytes += end - offset;
      log?.warning(`journal ${name}: torn tail of ${end - offset} bytes at offset ${offset} truncated`);
      await disk.cutSegment(path, offset);
      return offset;
    }
    const until = next.at < 0 ? end : next.at;
    const lost = damagedRecords(buf, until, [offset, ...next.suspects.filter((p) => p < until)]);
    for (const id of lost.messages) replay.lost.add(id);
    report.unreadableRecords += lost.unreadable;
    report.corrupt++;
    let how: string;
    if (next.at >= 0) how = `resynchronised at offset ${next.at}`;
    else if (next.exhausted) how = 'too many false frame starts to search on; segment cut there';
    else how = 'no intact frame after it; segment cut there';
    await disk.quarantine(queueDir, segment, offset, buf.subarray(offset, until), damageName(f), log, how);
    if (next.at < 0) {
      await disk.cutSegment(path, offset);
      return offset;
    }
    await disk.padRecord(path, offset, next.at - offset - FRAME_HEADER);
    offset = next.at;
  }
}

const summary: MetaSummary = { queueId: '', hold: false, ready: false };

/**
 * Applies one good record; false when its meta is malformed. A message is
 * checked and indexed without decoding it (packed); a change decodes only
 * its own small meta, and unpacks the message it changes.
 */
function applyRecord(
  replay: Replay, segment: number, kind: number, buf: Buffer, metaStart: number, metaEnd: number, blobOffset: number, blobLength: number,
): boolean {
  const index = replay.index;
  if (kind === 0) return true;
  if (kind === KIND.MESSAGE) {
    if (!scanMessageMeta(buf, metaStart, metaEnd, summary)) return false;
    index.putPacked(summary.queueId, buf, metaStart, metaEnd, summary.hold, summary.ready,
      { segment, offset: blobOffset, length: blobLength });
    return true;
  }
  if (kind === KIND.MESSAGE_FILE) {
    // Rare (large messages only): decoded in full for its body file reference.
    const meta = decodeMeta(buf, metaStart, metaEnd);
    const file = meta && isMessageMeta(meta) ? bodyFileOf(meta) : undefined;
    if (!file || !scanMessageMeta(buf, metaStart, metaEnd, summary)) return false;
    index.putPacked(summary.queueId, buf, metaStart, metaEnd, summary.hold, summary.ready,
      { segment, offset: blobOffset, length: blobLength, file: { name: summary.queueId, ...file } });
    return true;
  }
  const meta = decodeMeta(buf, metaStart, metaEnd);
  if (!meta) return false;
  const change = meta as unknown as ChangeMeta;
  if (typeof change.i !== 'string') return false;
  if (!index.has(change.i)) {
    // A message whose record was damaged but which was done anyway was not lost.
    if (kind === KIND.DONE && replay.lost.size > 0) replay.lost.delete(change.i);
    return true;
  }
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

const READ_CHUNK = 1024 * 1024;

/** A segment's bytes, and the offset from which they are all zeros. */
interface LoadedSegment {
  buf: Buffer;
  zerosFrom: number;
}

/**
 * A segment read buffer that takes turns between segments, and how far into
 * it earlier reads wrote: past `dirty` it still holds the zeros it was
 * allocated with, in pages never touched.
 */
interface ReadBuffer {
  buf: Buffer;
  dirty: number;
  chunk: Buffer;
}

/**
 * Reads a whole segment into buffers[slot] (grown as needed); the bytes
 * read, and where the zeros at their end begin. A segment left more open
 * than 0600 (by an older version, which trusted the umask) is made 0600:
 * it holds message bodies.
 * The file is read through a small chunk, and only chunks holding data are
 * copied into the zero-allocated buffer: the pre-sized zero tail of a
 * segment (most of the last one, all of a prepared one) then costs no page
 * of memory, where writing 64 MiB of zeros into fresh pages cost more than
 * replaying a short segment. The bytes seen are the file's all the same.
 */
async function readSegment(path: string, buffers: (ReadBuffer | undefined)[], slot: number, fixModes: boolean): Promise<LoadedSegment> {
  const fh = await open(path, 'r');
  try {
    const st = await fh.stat();
    if (fixModes && (st.mode & 0o777) !== PRIVATE_FILE_MODE) await fh.chmod(PRIVATE_FILE_MODE);
    const size = st.size;
    let rb = buffers[slot];
    if (!rb || rb.buf.length < size) {
      rb = { buf: Buffer.alloc(size), dirty: 0, chunk: rb?.chunk ?? Buffer.allocUnsafeSlow(READ_CHUNK) };
      buffers[slot] = rb;
    }
    const { buf, chunk } = rb;
    const stale = rb.dirty;
    let got = 0;
    // Just past the last chunk copied; from there to `got` the file holds zeros.
    let copied = 0;
    while (got < size) {
      const { bytesRead } = await fh.read(chunk, 0, Math.min(READ_CHUNK, size - got), got);
      if (bytesRead === 0) break;
      if (dataEnd(chunk.subarray(0, bytesRead), 0) > 0) {
        if (copied < stale) buf.fill(0, copied, Math.min(got, stale));
        chunk.copy(buf, got, 0, bytesRead);
        copied = got + bytesRead;
      }
      got += bytesRead;
    }
    if (copied < stale) buf.fill(0, copied, Math.min(got, stale));
    rb.dirty = stale > got ? stale : copied;
    return { buf: buf.subarray(0, got), zerosFrom: copied };
  } finally {
    await fh.close();
  }
}

/** True when one of these segments holds any data (its first frame is not all zeros). */
async function anyHoldsData(queueDir: string, segments: number[]): Promise<boolean> {
  const head = Buffer.alloc(4096);
  for (const n of segments) {
    const fh = await open(segmentPath(queueDir, n), 'r');
    try {
      const { bytesRead } = await fh.read(head, 0, head.length, 0);
      if (dataEnd(head.subarray(0, bytesRead), 0) > 0) return true;
    } finally {
      await fh.close();
    }
  }
  return false;
}

/** Copies damaged bytes to corrupt/SEGMENT-OFFSET (0600, synced) and logs where they went and what follows (`then`). */
async function quarantine(
  queueDir: string, segment: number, offset: number, bytes: Buffer, why: string, log: Logger | undefined, then?: string,
): Promise<void> {
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
  log?.warning(`journal ${segmentName(segment)}: ${why} at offset ${offset}, ${bytes.length} bytes saved as ${CORRUPT_DIR}/${name}` +
    (then ? `; ${then}` : ''));
}

/** Writes `bytes` over a segment at `offset` and makes them durable (a repaired frame header). */
async function writeAt(path: string, bytes: Buffer, offset: number): Promise<void> {
  const fh = await open(path, 'r+');
  try {
    await fh.write(bytes, 0, bytes.length, offset);
    await fh.datasync();
  } finally {
    await fh.close();
  }
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


/**
 * Replays the journal into `index` without changing anything on disk, for
 * a reader while the daemon is down; damage is skipped, not repaired.
 */
export async function readJournalReadOnly(queueDir: string, index: QueueIndex): Promise<RecoveryReport> {
  return (await recoverJournal(queueDir, index, undefined, NO_REPAIRS)).report;
}
