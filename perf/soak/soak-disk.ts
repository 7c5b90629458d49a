/**
 * soak-disk: a file system of the queue's own, so the soak can fill it for
 * real (no hook in the daemon needed): a tmpfs of a fixed size mounted on a
 * temporary directory, filled with a filler file until the kernel says
 * ENOSPC, held full for a while, then emptied. Mounting needs root (or
 * CAP_SYS_ADMIN); without it `mountQueueFs` says why and the soak skips the
 * full-disk fault. A tmpfs makes fsync free, which changes the speed of the
 * queue but not what a full disk or a crash does to it (a SIGKILLed daemon
 * does not take the mount's contents with it).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, unlinkSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface QueueFs {
  /** Where the queue goes (a fresh directory on the mount). */
  dir: string;
  /** Fills the file system, keeps it full for `holdMs`, empties it; resolves the bytes it took. */
  fill(holdMs: number): Promise<number>;
  /** Unmounts and removes the mount point; never throws. */
  unmount(): void;
}

/** Mounts a tmpfs of `sizeMiB`; the reason it could not, as a string. */
export function mountQueueFs(sizeMiB: number): QueueFs | string {
  const point = mkdtempSync(join(tmpdir(), 'postrider-soak-fs-'));
  try {
    execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${sizeMiB}m,mode=0700`, 'tmpfs', point], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (err) {
    rmSync(point, { recursive: true, force: true });
    const text = (err as { stderr?: Buffer }).stderr?.toString().trim() || (err as Error).message;
    return `cannot mount a tmpfs for the queue (root needed): ${text.split('\n')[0]}`;
  }
  const filler = join(point, 'filler');
  return {
    dir: join(point, 'spool'),
    fill: async (holdMs) => {
      const chunk = Buffer.alloc(1024 * 1024, 0x5a);
      let bytes = 0;
      const fd = openSync(filler, 'w');
      try {
        for (;;) {
          try {
            bytes += writeSync(fd, chunk);
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
            throw err;
          }
        }
      } finally {
        closeSync(fd);
      }
      await new Promise((r) => setTimeout(r, holdMs));
      unlinkSync(filler);
      return bytes;
    },
    unmount: () => {
      try {
        execFileSync('umount', [point], { stdio: 'ignore' });
        rmSync(point, { recursive: true, force: true });
      } catch {
        // still busy: left for the system's tmp cleaning
      }
    },
  };
}
