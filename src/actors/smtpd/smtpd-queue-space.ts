/**
 * smtpd-queue-space: Postfix's smtpd_check_queue. Before a MAIL FROM is
 * accepted, the queue file system must have more free space (for an
 * unprivileged user) than queue_minfree, and more than 1.5 times
 * message_size_limit: otherwise smtpd answers "452 4.3.1 Insufficient
 * system storage" and the client tries again later, rather than sending a
 * message that cannot be stored. The free space is read with statfs at most
 * once a second (one system call per second, not per message). A statfs
 * that fails (the queue directory is missing in a test setup) is logged
 * once and lets mail through: the store still refuses what it cannot write.
 */
import { statfs } from 'node:fs/promises';
import { dirname } from 'node:path';
import type { Logger } from '../../util/log.js';

/** Postfix's smtpd_space_multf: free space must be at least this many times message_size_limit. */
export const SPACE_MULTIPLIER = 1.5;

/** How long one statfs answer is used. */
const REFRESH_MS = 1000;

/** The verdict on the queue file system's free space. */
export type SpaceVerdict = { ok: true } | { ok: false; free: number; need: number };

export class QueueSpace {
  private free: number | undefined;
  private readAt = 0;
  private reading: Promise<void> | undefined;
  private warned = false;

  /**
   * @param dir the queue directory (its nearest existing parent is measured)
   * @param minfree queue_minfree in bytes
   * @param messageSizeLimit message_size_limit in bytes (0: no limit)
   */
  constructor(
    private readonly dir: string,
    private readonly minfree: number,
    private readonly messageSizeLimit: number,
    private readonly log: Logger,
  ) {}

  /** The bytes a MAIL FROM needs free: the larger of queue_minfree and 1.5 x message_size_limit. */
  get need(): number {
    return Math.max(this.minfree, Math.ceil(SPACE_MULTIPLIER * Math.max(0, this.messageSizeLimit)));
  }

  /** Whether a new message may start now. */
  async check(): Promise<SpaceVerdict> {
    const need = this.need;
    if (need <= 0) return { ok: true };
    if (this.free === undefined || Date.now() - this.readAt >= REFRESH_MS) {
      this.reading ??= this.read().finally(() => {
        this.reading = undefined;
      });
      await this.reading;
    }
    if (this.free === undefined || this.free > need) return { ok: true };
    return { ok: false, free: this.free, need };
  }

  private async read(): Promise<void> {
    let dir = this.dir;
    for (;;) {
      try {
        const st = await statfs(dir);
        this.free = Number(st.bavail) * Number(st.bsize);
        this.readAt = Date.now();
        return;
      } catch (err) {
        const up = dirname(dir);
        if ((err as NodeJS.ErrnoException).code === 'ENOENT' && up !== dir) {
          dir = up;
          continue;
        }
        if (!this.warned) this.log.warning(`statfs ${this.dir}: ${(err as Error).message}; queue_minfree is not checked`);
        this.warned = true;
        this.free = undefined;
        this.readAt = Date.now();
        return;
      }
    }
  }
}
