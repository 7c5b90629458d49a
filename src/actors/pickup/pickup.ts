/**
 * pickup: takes what `postrider sendmail` dropped in $queue_directory/maildrop
 * and submits it (through cleanup, supplied by the caller as `submit`), as
 * Postfix's pickup(8) does.
 *
 * Files are found by fs.watch, with a periodic scan (every second by
 * default) as a fallback for missed events, and taken one at a time in name
 * order (that is, submission order). A file is deleted only after submit
 * resolved with a queue id, so delivery is at least once: a crash between
 * submit and unlink queues the message a second time after restart.
 * - submit throws (cleanup or store unavailable): the file stays, the scan
 *   stops, and the next scan retries it, so order is kept and nothing spins.
 * - submit answers { rejected }: the message will never be accepted; it is
 *   moved to $queue_directory/corrupt/ with a warning, not lost.
 * - an unparsable file, or something that is not a regular file, is moved
 *   to $queue_directory/corrupt/ with a warning.
 * - a ".tmp-" file older than an hour (a sendmail that died while writing)
 *   is removed.
 * Log lines as Postfix's pickup: "QUEUEID: uid=N from=<sender>".
 * No method throws; file system errors are logged as warnings.
 */
import { watch, type FSWatcher } from 'node:fs';
import { lstat, readdir, readFile, rename, unlink } from 'node:fs/promises';
import { join } from 'node:path';
import type { RecipientSpec } from '../../store/store-types.js';
import type { Logger } from '../../util/log.js';
import { makePrivateDir } from '../../util/private-files.js';
import { decodeMaildropFile, isMaildropName, maildropDir } from '../../global/maildrop-file.js';
import { syncDir } from '../../store/store-segment.js';

/** What pickup hands to cleanup for one maildrop file. */
export interface PickupSubmission {
  sender: string;
  recipients: RecipientSpec[];
  content: Uint8Array;
  arrivalTime: number;
  uid: number;
  fullName?: string;
  envid?: string;
  ret?: 'FULL' | 'HDRS';
  bodyType?: '7BIT' | '8BITMIME';
  /** sendmail -bv (the "v" flag): queue verify-only. */
  verify?: boolean;
}

/** Age after which an unfinished ".tmp-" file in the maildrop is removed. */
const STALE_TEMPORARY_MS = 3600_000;

export type PickupSubmit = (m: PickupSubmission) => Promise<{ queueId: string } | { rejected: string }>;

export interface PickupOptions {
  queueDir: string;
  log: Logger;
  submit: PickupSubmit;
  /** Fallback scan period; default 1000 ms. */
  intervalMs?: number;
}

export class Pickup {
  private readonly dir: string;
  private readonly corruptDir: string;
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private again = false;
  private stopped = false;
  /** Whether the last scan found files to take (or could not read the directory): work no request stands for. */
  private found = true;
  /** Last directory error logged, so a broken maildrop warns once, not every second. */
  private lastScanError = '';

  constructor(private readonly opts: PickupOptions) {
    this.dir = maildropDir(opts.queueDir);
    this.corruptDir = join(opts.queueDir, 'corrupt');
  }

  /** Starts watching the maildrop directory (created when missing) and scans it at once. */
  start(): void {
    this.stopped = false;
    void makePrivateDir(this.dir)
      .catch((err: NodeJS.ErrnoException) => this.opts.log.warning(`mkdir ${this.dir}: ${err.code ?? err.message}`))
      .then(() => {
        if (this.stopped) return;
        try {
          this.watcher = watch(this.dir, () => void this.scanNow());
          this.watcher.on('error', () => {
            // The periodic scan still finds the files; a dead watcher only costs latency.
            this.watcher?.close();
            this.watcher = undefined;
          });
        } catch {
          this.watcher = undefined;
        }
        void this.scanNow();
      });
    this.timer = setInterval(() => void this.scanNow(), this.opts.intervalMs ?? 1000);
  }

  /**
   * Scans the maildrop now and submits every file found; resolves with the
   * number of files submitted. A call during a scan makes that scan look
   * again before it ends, and shares its result.
   */
  scanNow(): Promise<number> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      let total = 0;
      try {
        do {
          this.again = false;
          total += await this.scanOnce();
        } while (this.again && !this.stopped);
      } catch (err) {
        // Timers and watch events call this without awaiting: it must never reject.
        this.opts.log.warning(`scan ${this.dir}: ${(err as Error)?.message ?? String(err)}`);
      } finally {
        this.running = undefined;
      }
      return total;
    })();
    return this.running;
  }

  /** Whether it is taking files in or the last scan found some: max_idle must not end it then. */
  holdsWork(): boolean {
    return this.found || this.running !== undefined;
  }

  /** Stops watching and waits for a scan in progress to finish. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.watcher?.close();
    this.watcher = undefined;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
    await this.running?.catch(() => undefined);
  }

  private async scanOnce(): Promise<number> {
    let all: string[];
    try {
      all = await readdir(this.dir);
      this.lastScanError = '';
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? String(err);
      if (code !== 'ENOENT' && code !== this.lastScanError) this.opts.log.warning(`scan ${this.dir}: ${code}`);
      this.lastScanError = code;
      this.found = code !== 'ENOENT';
      return 0;
    }
    await this.removeStaleTemporaries(all);
    const names = all.filter(isMaildropName).sort();
    this.found = names.length > 0;
    let count = 0;
    for (const name of names) {
      if (this.stopped) break;
      const outcome = await this.takeOne(name);
      if (outcome === 'retry-later') break;
      if (outcome === 'submitted') count++;
    }
    if (count > 0) {
      // One directory fsync per scan, not per file: a lost unlink only means
      // a duplicate after a crash, which at-least-once already allows.
      await syncDir(this.dir).catch(() => undefined);
    }
    return count;
  }

  private async takeOne(name: string): Promise<'submitted' | 'skipped' | 'retry-later'> {
    const path = join(this.dir, name);
    let buf: Buffer;
    try {
      const st = await lstat(path);
      if (!st.isFile()) {
        await this.quarantine(name, 'not a regular file');
        return 'skipped';
      }
      buf = await readFile(path);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // Gone already: another scan or an administrator took it.
      if (code === 'ENOENT') return 'skipped';
      this.opts.log.warning(`read ${path}: ${code ?? String(err)}`);
      return 'retry-later';
    }
    let parsed;
    try {
      parsed = decodeMaildropFile(buf);
    } catch (err) {
      await this.quarantine(name, (err as Error).message);
      return 'skipped';
    }
    const { envelope, content } = parsed;
    let result: { queueId: string } | { rejected: string };
    try {
      result = await this.opts.submit({
        sender: envelope.sender,
        recipients: envelope.recipients,
        content,
        arrivalTime: envelope.arrivalTime,
        uid: envelope.uid,
        ...(envelope.fullName !== undefined ? { fullName: envelope.fullName } : {}),
        ...(envelope.envid !== undefined ? { envid: envelope.envid } : {}),
        ...(envelope.ret !== undefined ? { ret: envelope.ret } : {}),
        ...(envelope.bodyType !== undefined ? { bodyType: envelope.bodyType } : {}),
        ...(envelope.flags.includes('v') ? { verify: true } : {}),
      });
    } catch (err) {
      this.opts.log.warning(`${name}: submit failed, will retry: ${(err as Error)?.message ?? String(err)}`);
      return 'retry-later';
    }
    if ('rejected' in result) {
      await this.quarantine(name, `rejected: ${result.rejected}`);
      return 'skipped';
    }
    this.opts.log.queue(result.queueId, `uid=${envelope.uid} from=<${envelope.sender}>`);
    try {
      await unlink(path);
    } catch (err) {
      this.opts.log.warning(`remove ${path}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
    return 'submitted';
  }

  /**
   * Removes ".tmp-" files left by a sendmail that died while writing. sendmail
   * reads all of its input before it creates the file, so a live one is only
   * seconds old; an hour is far beyond any writer still at work.
   */
  private async removeStaleTemporaries(names: string[]): Promise<void> {
    const cutoff = Date.now() - STALE_TEMPORARY_MS;
    for (const name of names) {
      if (!name.startsWith('.tmp-')) continue;
      const path = join(this.dir, name);
      try {
        const st = await lstat(path);
        if (st.mtimeMs < cutoff) {
          await unlink(path);
          this.opts.log.warning(`${name}: removed stale temporary file`);
        }
      } catch {
        // Renamed or removed meanwhile: nothing to clean.
      }
    }
  }

  /** Moves a file that can never be submitted out of the maildrop, keeping it for the administrator. */
  private async quarantine(name: string, why: string): Promise<void> {
    this.opts.log.warning(`${name}: ${why}: moved to corrupt queue`);
    try {
      await makePrivateDir(this.corruptDir);
      await rename(join(this.dir, name), join(this.corruptDir, name));
    } catch (err) {
      this.opts.log.warning(`move ${name} to ${this.corruptDir}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
    }
  }
}
