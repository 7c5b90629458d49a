/**
 * maildrop-watch: the supervisor's eye on $queue_directory/maildrop while
 * pickup waits on demand. Postfix's postdrop wakes pickup through a FIFO;
 * here the main thread watches the directory (fs.watch, with a scan every
 * `intervalMs` for events the watcher missed) and calls `wake` when a file
 * pickup would take is there. It reads the directory only while `waiting()`
 * says pickup is not running: a running pickup's own deletions would make a
 * backlog of N files cost N directory reads here. Errors of the directory only delay
 * the wake to the next scan; nothing here throws.
 */
import { watch, type FSWatcher } from 'node:fs';
import { readdir } from 'node:fs/promises';
import { ensureMaildrop, isMaildropName, maildropDir } from '../store/maildrop-dir.js';

export class MaildropWatch {
  private watcher: FSWatcher | undefined;
  private timer: NodeJS.Timeout | undefined;
  private looking = false;
  private closed = false;

  constructor(
    private readonly queueDir: string,
    private readonly waiting: () => boolean,
    private readonly wake: () => void,
    private readonly intervalMs = 10_000,
  ) {}

  /** Creates the maildrop when missing, starts watching and looks once now. */
  async start(): Promise<void> {
    const dir = await ensureMaildrop(this.queueDir).catch(() => maildropDir(this.queueDir));
    if (this.closed) return;
    try {
      this.watcher = watch(dir, () => void this.look());
      this.watcher.on('error', () => {
        this.watcher?.close();
        this.watcher = undefined;
      });
    } catch {
      this.watcher = undefined;
    }
    this.timer = setInterval(() => void this.look(), this.intervalMs);
    this.timer.unref();
    await this.look();
  }

  close(): void {
    this.closed = true;
    this.watcher?.close();
    this.watcher = undefined;
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  /** Wakes pickup when the maildrop holds a finished file (a ".tmp-" one is still being written). */
  private async look(): Promise<void> {
    if (this.looking || this.closed || !this.waiting()) return;
    this.looking = true;
    try {
      const names = await readdir(maildropDir(this.queueDir));
      if (!this.closed && names.some(isMaildropName)) this.wake();
    } catch {
      // A missing or unreadable maildrop: the next look tries again; pickup warns when it runs.
    } finally {
      this.looking = false;
    }
  }
}
