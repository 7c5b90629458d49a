/**
 * local-files: reading the lists local(8) expands from files: a user's
 * .forward and :include: files, with Postfix's safety checks. Opened
 * without following a symbolic link; it must be a regular file, not
 * writable by group or others; a .forward must belong to its user. A file
 * that fails a check is skipped with a warning, as Postfix skips it;
 * a missing file is undefined. Other read errors reject (the caller
 * defers). Public: readListFile, splitListText.
 */
import { constants } from 'node:fs';
import { open } from 'node:fs/promises';

/** A list file's text and owner. */
export interface ListFile {
  text: string;
  uid: number;
  gid: number;
}

/** Reads a list file; undefined when it does not exist or fails a check (`warn` says which). */
export async function readListFile(path: string, warn: (text: string) => void, ownerUid?: number): Promise<ListFile | undefined> {
  let fh;
  try {
    fh = await open(path, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT' || code === 'ENOTDIR') return undefined;
    if (code === 'ELOOP') {
      warn(`${path}: is a symbolic link; skipped`);
      return undefined;
    }
    throw err;
  }
  try {
    const st = await fh.stat();
    if (!st.isFile()) {
      warn(`${path}: not a regular file; skipped`);
      return undefined;
    }
    if (ownerUid !== undefined && st.uid !== ownerUid) {
      warn(`${path}: bad file owner uid ${st.uid} (expected ${ownerUid}); skipped`);
      return undefined;
    }
    if ((st.mode & 0o022) !== 0) {
      warn(`${path}: file is group or world writable; skipped`);
      return undefined;
    }
    return { text: await fh.readFile('utf8'), uid: st.uid, gid: st.gid };
  } finally {
    await fh.close();
  }
}

/**
 * The destinations in a list (alias value, .forward or :include: text):
 * separated by commas or newlines, "#" comment lines dropped, a "quoted
 * destination" may hold commas and spaces.
 */
export function splitListText(text: string): string[] {
  const out: string[] = [];
  for (const rawLine of text.split('\n')) {
    const line = rawLine.trim();
    if (!line || line.startsWith('#')) continue;
    let cur = '';
    let quoted = false;
    for (let i = 0; i < line.length; i++) {
      const c = line[i];
      if (c === '"') {
        quoted = !quoted;
        continue;
      }
      if (c === '\\' && quoted && i + 1 < line.length) {
        cur += line[++i];
        continue;
      }
      if (c === ',' && !quoted) {
        if (cur.trim()) out.push(cur.trim());
        cur = '';
        continue;
      }
      cur += c;
    }
    if (cur.trim()) out.push(cur.trim());
  }
  return out;
}
