/**
 * queue-store: the durable queue store, a library owned at run time by the
 * journal actor (the one writer of each queue shard: open(dir, { shard })
 * keeps one shard's journal, store-segment says where). open() replays the journal (recovery);
 * append() resolves only once the message is on disk (group commit, shared
 * fdatasync); outcomes and admin actions are journalled the same way.
 * Compaction copies live messages out of old segments and deletes them.
 * A large message's body arrives in a spool file (QUEUEDIR/spool/QUEUEID,
 * written and synced by the receiver): append() moves it to the shard's
 * large/ directory and syncs that directory before the record naming it
 * is written, so the record never names a file that is not on disk; the
 * file goes when the message is done, compaction copies only the record
 * (header section and state), and recovery deletes files no record names.
 * The index keeps each queued message packed (its journalled meta bytes,
 * off the JavaScript heap) until a change needs it as an object, so get(),
 * list() and live() hand out fresh copies that callers read but do not
 * change. The append path makes as little garbage as it can (the meta is
 * packed straight from the NewMessage): at tens of thousands of appends a
 * second, collector pauses hold up every append in flight at once.
 *
 * Errors: StoreError with code ERR_STORE_FULL / ERR_STORE_IO (the write
 * failed; nothing durable was harmed and later appends may succeed),
 * ERR_STORE_CLOSED (after close()), ERR_STORE_NOT_FOUND (readContent of a
 * compacted-away location), ERR_STORE_DUPLICATE_ID (append() of a queue id
 * that is queued or being written: the store owns the uniqueness Postfix
 * gets from the file system, so it refuses rather than overwrite, and
 * nothing is written). Index changes from outcomes and admin actions
 * take effect when they are queued for writing, so the journal's order is the
 * index's order; if such a write fails, the journal holds the older state and
 * a restart delivers again (at least once, never lost).
 */
import { readdir, rename, stat, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { Logger } from '../util/log.js';
import { makePrivateDir } from '../util/private-files.js';
import { StoreError } from './store-errors.js';
import { QueueIndex } from './store-index.js';
import { BODY_HEADER, FRAME_HEADER, type EncodedFrame } from './store-frame.js';
import { readContent } from './store-read.js';
import {
  applyAdmin, applyOutcomes, changeFrame, type ChangeMeta, copyMeta, isFinished, KIND, messageFrame, newMessageFrame,
} from './store-records.js';
import { recoverJournal, type RecoveryReport } from './store-recovery.js';
import {
  bodyFilePath, CORRUPT_DIR, JOURNAL_DIR, LARGE_DIR, MAX_SHARDS, SHARDS_DIR, SPOOL_DIR, segmentPath, shardRoot, spoolPath, syncDir,
} from './store-segment.js';
import {
  STORE_ERRORS, type AdminAction, type BodyLocation, type NewMessage, type QueueCounts, type QueuedMessage,
  type RecipientOutcome,
} from './store-types.js';
import { JournalWriter, type WriterStats } from './store-writer.js';

export { StoreError } from './store-errors.js';
export { readContent, contentStream, contentLength } from './store-read.js';
export { QueueIdGenerator } from './store-queue-id.js';

/** Options of QueueStore.open. */
export interface QueueStoreOptions {
  /** Pre-sized length of a journal segment; default 64 MiB. */
  segmentBytes?: number;
  /** Most bytes written by one flush (one writev + fdatasync); default 4 MiB. */
  maxBatchBytes?: number;
  log?: Logger;
  /** Background compaction period; default 60 s; 0 turns it off. */
  compactIntervalMs?: number;
  /**
   * The queue shard this store is (default 0): its journal and corrupt area
   * lie under shardRoot(queueDir, shard), and every location it hands out
   * names the shard, so readers given the queue directory find the content.
   */
  shard?: number;
  /**
   * Told, after each compaction run, where the messages it copied now lie
   * (before the old segments go), so a scheduler holding their old
   * locations can follow them.
   */
  onRelocated?: (moves: Relocation[]) => void;
  /**
   * How long compacted segments stay on disk after their messages were
   * copied forward (default 0: deleted at once): a reader handed an old
   * location just before the relocation still finds its bytes. A crash in
   * between only means recovery replays the copies twice, the later winning.
   */
  retireGraceMs?: number;
}

/** A message compaction copied forward, and its content's new location. */
export interface Relocation {
  queueId: string;
  location: BodyLocation;
}

const DEFAULT_SEGMENT = 64 * 1024 * 1024;
const DEFAULT_BATCH = 4 * 1024 * 1024;
const DEFAULT_COMPACT_MS = 60_000;
/**
 * A spool file untouched this long is a reception that will never finish
 * (its receiver died); shard 0 deletes such files when it opens. A live
 * reception writes at least every smtpd_timeout, far below this.
 */
const SPOOL_STALE_MS = 60 * 60_000;
/** Compaction copies this many messages at a time, so copies share flushes. */
const COPY_WINDOW = 128;

/** The durable queue: journal, index and compaction. */
export class QueueStore {
  /** Group-commit counters: flushes (fdatasyncs), records, bytes, lastBatch. */
  readonly stats: WriterStats;
  private readonly index: QueueIndex;
  private readonly writer: JournalWriter;
  private readonly corruptFiles: number;
  private closed = false;
  /** Ids of appends not yet durable: a duplicate of one is refused like a duplicate of a queued message. */
  private readonly appending = new Set<string>();
  private compacting: Promise<{ deletedSegments: number; copiedMessages: number }> | undefined;
  private onRelocated: ((moves: Relocation[]) => void) | undefined;
  private retireGraceMs = 0;
  /** Compacted segments waiting out retireGraceMs. */
  private readonly retiring = new Map<NodeJS.Timeout, number[]>();
  private timer: NodeJS.Timeout | undefined;

  private constructor(
    readonly queueDir: string,
    /** The directory this shard's journal/ and corrupt/ are in. */
    private readonly root: string,
    readonly recovery: RecoveryReport,
    index: QueueIndex,
    writer: JournalWriter,
    /** Data bytes in each segment (for the compaction policy). */
    private readonly segmentUse: Map<number, number>,
    corruptFiles: number,
    private readonly log: Logger | undefined,
  ) {
    this.index = index;
    this.writer = writer;
    this.stats = writer.stats;
    this.corruptFiles = corruptFiles;
  }

  /**
   * Opens (creating directories as needed) and recovers the queue in
   * `queueDir`. The journal and corrupt directories are made or set 0700,
   * and every segment and quarantined record is 0600, whatever the umask:
   * they hold message bodies.
   */
  static async open(queueDir: string, opts: QueueStoreOptions = {}): Promise<QueueStore> {
    const shard = opts.shard ?? 0;
    if (!Number.isInteger(shard) || shard < 0 || shard >= MAX_SHARDS) throw new RangeError(`queue shard out of range: ${shard}`);
    const root = shardRoot(queueDir, shard);
    if (shard > 0) await makePrivateDir(join(queueDir, SHARDS_DIR));
    await makePrivateDir(root);
    await makePrivateDir(join(root, JOURNAL_DIR));
    await makePrivateDir(join(root, CORRUPT_DIR));
    await makePrivateDir(join(root, LARGE_DIR));
    await makePrivateDir(join(queueDir, SPOOL_DIR));
    const index = new QueueIndex(shard);
    const { report, sizes, missingBodies } = await recoverJournal(root, index, opts.log);
    const last = Math.max(0, ...sizes.keys());
    // The recovered segments, then each one the writer starts (its first one included).
    const segmentUse = new Map(sizes);
    const writer = await JournalWriter.create(root, last + 1, {
      segmentBytes: positive(opts.segmentBytes, DEFAULT_SEGMENT),
      maxBatchBytes: positive(opts.maxBatchBytes, DEFAULT_BATCH),
      onSegment: (n, prev, used) => {
        if (prev !== undefined) segmentUse.set(prev, used);
        segmentUse.set(n, 0);
      },
    });
    const corrupt = (await readdir(join(root, CORRUPT_DIR))).length;
    const store = new QueueStore(queueDir, root, report, index, writer, segmentUse, corrupt, opts.log);
    // Records whose body file was missing: ended, so the next recovery does not report them again.
    for (const id of missingBodies) await writer.append(changeFrame(KIND.DONE, { i: id, w: 'corrupt' }));
    if (shard === 0) await removeStaleSpool(queueDir, opts.log);
    opts.log?.info(`journal recovery${shard > 0 ? ` (shard ${shard})` : ''}: segments=${report.segments}, records=${report.records}, messages=${report.messages}, ` +
      `corrupt=${report.corrupt}, torn_tail_bytes=${report.tornTailBytes}, repaired=${report.repaired}, ` +
      `lost=${report.lostMessages.length}, ms=${report.ms}`);
    store.onRelocated = opts.onRelocated;
    store.retireGraceMs = Math.max(0, opts.retireGraceMs ?? 0);
    const every = opts.compactIntervalMs ?? DEFAULT_COMPACT_MS;
    if (every > 0) {
      store.timer = setInterval(() => store.backgroundCompact(), every);
      store.timer.unref();
    }
    return store;
  }

  private checkOpen(): void {
    if (this.closed) throw new StoreError(STORE_ERRORS.CLOSED, 'queue store is closed');
  }

  /**
   * Makes a new message durable; resolves with its content location after
   * fdatasync. Not an async function: a suspended async frame per append
   * was the largest garbage the append path made; one reaction is less.
   */
  append(message: NewMessage): Promise<BodyLocation> {
    if (message.bodyFile) return this.appendWithFile(message);
    let frame: EncodedFrame;
    const queueId = message.queueId;
    try {
      this.checkOpen();
      if (this.appending.has(queueId) || this.index.has(queueId)) {
        throw new StoreError(STORE_ERRORS.DUPLICATE_ID, `queue id ${queueId} is already in the queue; not overwritten`);
      }
      frame = newMessageFrame(message);
    } catch (err) {
      return Promise.reject(err);
    }
    this.appending.add(queueId);
    return this.writer.append(frame).then(
      () => {
        this.appending.delete(queueId);
        return this.indexAppended(message, frame);
      },
      (err: unknown) => {
        this.appending.delete(queueId);
        throw err;
      },
    );
  }

  /**
   * append() of a message whose body is in a spool file: the file is moved
   * beside the journal and the directory synced, then the record is
   * written. A failed write leaves the file to be removed (now, or by
   * recovery if the process dies first): nothing acknowledged names it.
   */
  private async appendWithFile(message: NewMessage): Promise<BodyLocation> {
    const queueId = message.queueId;
    const ref = message.bodyFile as NonNullable<NewMessage['bodyFile']>;
    this.checkOpen();
    if (this.appending.has(queueId) || this.index.has(queueId)) {
      throw new StoreError(STORE_ERRORS.DUPLICATE_ID, `queue id ${queueId} is already in the queue; not overwritten`);
    }
    const frame = newMessageFrame(message);
    const target = bodyFilePath(this.queueDir, this.shard, queueId);
    this.appending.add(queueId);
    let moved = false;
    try {
      const size = (await stat(spoolPath(this.queueDir, queueId))).size;
      if (size < ref.offset + ref.length) throw new Error(`spool file of ${queueId} has ${size} bytes, fewer than its body's end ${ref.offset + ref.length}`);
      await rename(spoolPath(this.queueDir, queueId), target);
      moved = true;
      await syncDir(join(this.root, LARGE_DIR));
      await this.writer.append(frame);
    } catch (err) {
      if (moved) await unlink(target).catch(() => undefined);
      throw err instanceof StoreError ? err : new StoreError(STORE_ERRORS.IO, `body file of ${queueId}: ${(err as Error).message}`);
    } finally {
      this.appending.delete(queueId);
    }
    return this.indexAppended(message, frame);
  }

  /** Indexes a message just made durable, packed from the bytes written: no objects kept per queued message. */
  private indexAppended(message: NewMessage, frame: EncodedFrame): BodyLocation {
    const location = this.contentLocation(frame, message.content.length);
    if (message.bodyFile) location.file = { name: message.queueId, offset: message.bodyFile.offset, length: message.bodyFile.length };
    this.index.putPacked(message.queueId, frame.head, FRAME_HEADER + BODY_HEADER, frame.blobOffset, message.hold === true,
      message.recipients.length > 0, location);
    return location;
  }

  /**
   * Records delivery outcomes; when nothing is left to do (isFinished: no
   * recipient ready or deferred, every failed one listed in a notice), also
   * writes 'done' and drops the message from the index. An unknown id
   * (already done or deleted) writes nothing and reports finished.
   * `noticed`: the recipients a failure notice has just listed, recorded with
   * the outcomes so that no later notice lists them again.
   */
  async recordOutcomes(queueId: string, outcomes: RecipientOutcome[], noticed?: number[]): Promise<{ finished: boolean }> {
    this.checkOpen();
    const q = this.index.promote(queueId);
    if (!q) return { finished: true };
    applyOutcomes(q, outcomes, noticed);
    const meta: ChangeMeta = { i: queueId, o: outcomes.map(cleanOutcome) };
    if (noticed && noticed.length > 0) meta.n = noticed;
    const finished = isFinished(q);
    // The end of a message that needs nothing more (no notice listed now, no
    // body file to delete after it) is a lazy record: written at once, made
    // durable by the journal's next fdatasync, as Postfix marks a recipient
    // done without an fsync. Lost only with the machine's power, it makes a
    // second delivery, never a lost message.
    const durable = !finished || (noticed !== undefined && noticed.length > 0) || q.location.file !== undefined;
    const writes = [this.writer.append(changeFrame(KIND.OUTCOMES, meta), durable)];
    if (finished) {
      this.index.remove(queueId);
      writes.push(this.writer.append(changeFrame(KIND.DONE, { i: queueId }), durable));
    }
    await Promise.all(writes);
    if (finished && q.location.file) await this.removeBodyFile(queueId);
    return { finished };
  }

  /** hold / release / requeue / delete; false if the id is not in the queue. */
  async admin(action: AdminAction, queueId: string): Promise<boolean> {
    this.checkOpen();
    if (!this.index.has(queueId)) return false;
    if (action === 'delete') {
      const file = this.index.location(queueId)?.file;
      this.index.remove(queueId);
      await this.writer.append(changeFrame(KIND.DONE, { i: queueId, w: 'delete' }));
      if (file) await this.removeBodyFile(queueId);
      return true;
    }
    const kind = action === 'hold' ? KIND.HOLD : action === 'release' ? KIND.RELEASE : KIND.REQUEUE;
    applyAdmin(this.index.promote(queueId) as QueuedMessage, action);
    await this.writer.append(changeFrame(kind, { i: queueId }));
    return true;
  }

  /** Ends a message's life in the queue (bounce sent, or nothing left to do). */
  async markDone(queueId: string): Promise<void> {
    this.checkOpen();
    const file = this.index.location(queueId)?.file;
    if (!this.index.remove(queueId)) return;
    await this.writer.append(changeFrame(KIND.DONE, { i: queueId }));
    if (file) await this.removeBodyFile(queueId);
  }

  /**
   * Deletes a done message's body file, once its done record is durable. A
   * failure only logs: recovery deletes a file no record names.
   */
  private async removeBodyFile(queueId: string): Promise<void> {
    await unlink(bodyFilePath(this.queueDir, this.shard, queueId)).catch((err: NodeJS.ErrnoException) => {
      if (err.code !== 'ENOENT') this.log?.warning(`${queueId}: cannot remove body file: ${err.message}`);
    });
  }

  /**
   * One live message (no content), or undefined. Read it, do not change it:
   * a recovered message is decoded afresh on each call.
   */
  get(queueId: string): QueuedMessage | undefined {
    return this.index.get(queueId);
  }

  /** A page of live messages in queue-id order after `after`; `next` continues it. */
  list(after: string | undefined, limit: number): { messages: QueuedMessage[]; next?: string } {
    return this.index.list(after, limit);
  }

  /** Every live message, in no particular order. */
  live(): IterableIterator<QueuedMessage> {
    return this.index.values();
  }

  /** Counts by queue state, as `postrider status` and mailq's summary show them. */
  counts(): QueueCounts {
    return this.index.counts(this.corruptFiles);
  }

  /**
   * Copies every live message out of sealed segments (message + current state
   * in one record), then deletes those segments. Concurrent calls share a run.
   */
  compact(): Promise<{ deletedSegments: number; copiedMessages: number }> {
    this.checkOpen();
    if (!this.compacting) {
      this.compacting = this.runCompaction().finally(() => {
        this.compacting = undefined;
      });
    }
    return this.compacting;
  }

  private backgroundCompact(): void {
    if (this.closed || this.compacting) return;
    // Worth it only when at least half of the sealed bytes are dead.
    const current = this.writer.currentSegment;
    let sealed = 0;
    for (const [n, used] of this.segmentUse) if (n < current) sealed += used;
    if (sealed === 0) return;
    // About 256 bytes of meta and framing per message besides its content.
    const live = this.index.bytesBefore(current, 256);
    if (live * 2 > sealed) return;
    this.compact().catch((err: unknown) => {
      this.log?.warning(`journal compaction failed: ${(err as Error).message}`);
    });
  }

  private async runCompaction(): Promise<{ deletedSegments: number; copiedMessages: number }> {
    const current = this.writer.currentSegment;
    const sealed = [...this.segmentUse.keys()].filter((n) => n < current).sort((a, b) => a - b);
    if (sealed.length === 0) return { deletedSegments: 0, copiedMessages: 0 };
    const toCopy: string[] = [];
    this.index.forEachLocation((id, segment) => {
      if (segment < current) toCopy.push(id);
    });
    const moves: Relocation[] = [];
    for (let i = 0; i < toCopy.length; i += COPY_WINDOW) {
      const copies = await Promise.all(toCopy.slice(i, i + COPY_WINDOW).map((q) => this.copyForward(q, current)));
      for (const c of copies) if (c) moves.push(c);
    }
    const copied = moves.length;
    if (moves.length > 0) this.onRelocated?.(moves);
    for (const n of sealed) this.segmentUse.delete(n);
    if (this.retireGraceMs > 0 && !this.closed) {
      const timer = setTimeout(() => {
        this.retiring.delete(timer);
        this.removeSegments(sealed).catch((err: unknown) => this.log?.warning(`journal compaction: ${(err as Error).message}`));
      }, this.retireGraceMs);
      timer.unref();
      this.retiring.set(timer, sealed);
    } else {
      await this.removeSegments(sealed);
    }
    this.log?.info(`journal compaction: deleted_segments=${sealed.length}, copied_messages=${copied}`);
    return { deletedSegments: sealed.length, copiedMessages: copied };
  }

  private async removeSegments(segments: number[]): Promise<void> {
    for (const n of segments) {
      await unlink(segmentPath(this.root, n)).catch((err: NodeJS.ErrnoException) => {
        if (err.code !== 'ENOENT') throw err;
      });
    }
    await syncDir(join(this.root, JOURNAL_DIR));
  }

  /** Copies one message forward; undefined when it finished or moved meanwhile. */
  private async copyForward(queueId: string, current: number): Promise<Relocation | undefined> {
    const from = this.index.location(queueId);
    if (!from || from.segment >= current) return undefined;
    // A body in a file stays where it is: only the record (its header section) is copied.
    const content = await readContent(this.queueDir, from, true);
    // The state is taken when the copy is queued: later changes follow it in the journal.
    const q = this.index.get(queueId);
    if (!q || q.location.segment !== from.segment || q.location.offset !== from.offset) return undefined;
    const frame = messageFrame(copyMeta(q), content);
    await this.writer.append(frame);
    const location = this.contentLocation(frame, content.length);
    if (from.file) location.file = from.file;
    this.index.relocate(queueId, from, location);
    return { queueId, location };
  }

  /** Where the content of a message record written as `frame` lies. */
  private contentLocation(frame: EncodedFrame, length: number): BodyLocation {
    const at: BodyLocation = { segment: frame.segment, offset: frame.offset + frame.blobOffset, length };
    if (this.shard > 0) at.shard = this.shard;
    return at;
  }

  /** The queue shard this store is. */
  get shard(): number {
    return this.index.shardNumber;
  }

  /** Finishes queued writes and closes the journal; later calls fail with ERR_STORE_CLOSED. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    await this.compacting?.catch(() => undefined);
    // Segments still in their grace go now: no reader of this store is left.
    for (const [timer, segments] of this.retiring) {
      clearTimeout(timer);
      await this.removeSegments(segments).catch(() => undefined);
    }
    this.retiring.clear();
    await this.writer.close();
  }
}


/** Deletes spool files of receptions that will never finish (see SPOOL_STALE_MS). */
async function removeStaleSpool(queueDir: string, log: Logger | undefined): Promise<void> {
  const dir = join(queueDir, SPOOL_DIR);
  const before = Date.now() - SPOOL_STALE_MS;
  let removed = 0;
  for (const name of await readdir(dir)) {
    const path = join(dir, name);
    try {
      if ((await stat(path)).mtimeMs < before) {
        await unlink(path);
        removed++;
      }
    } catch {
      // Moved or deleted meanwhile: nothing to do.
    }
  }
  if (removed > 0) log?.info(`queue spool: removed ${removed} unfinished reception${removed === 1 ? '' : 's'}`);
}

function positive(v: number | undefined, dflt: number): number {
  return v !== undefined && Number.isFinite(v) && v > 0 ? Math.floor(v) : dflt;
}

/** An outcome as journalled: no undefined fields (msgpack would carry them). */
function cleanOutcome(o: RecipientOutcome): RecipientOutcome {
  const c: RecipientOutcome = { index: o.index, state: o.state, reason: o.reason, dsn: o.dsn };
  if (o.nextAttempt !== undefined) c.nextAttempt = o.nextAttempt;
  if (o.delayNotified !== undefined) c.delayNotified = o.delayNotified;
  // Kept so that recovery restores the Remote-MTA of a notice not yet sent.
  if (typeof o.relay === 'string') c.relay = o.relay;
  if (typeof o.reply === 'string') c.reply = o.reply;
  if (typeof o.command === 'string') c.command = o.command;
  return c;
}
