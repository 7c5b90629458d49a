/**
 * maildrop-dir: where `postrider sendmail` leaves mail for pickup inside the
 * queue directory, and which names in it are finished files. The file format
 * is global/maildrop-file's; the master process needs only these two facts
 * to wake pickup, so they live on the store's floor.
 */
import { join } from 'node:path';
import { makePrivateDir } from '../util/private-files.js';

/** The maildrop directory of a queue directory. */
export function maildropDir(queueDir: string): string {
  return join(queueDir, 'maildrop');
}

/** Creates the maildrop directory (and the queue directory) when missing; mode 0700 whatever the umask. */
export async function ensureMaildrop(queueDir: string): Promise<string> {
  const dir = maildropDir(queueDir);
  await makePrivateDir(dir);
  return dir;
}

/** True for a name pickup should take: not hidden, not temporary, no path characters. */
export function isMaildropName(name: string): boolean {
  return /^[0-9A-Za-z][0-9A-Za-z._-]*$/.test(name);
}
