/**
 * private-files: the queue is 0700 directories and 0600 files whatever the
 * umask, checked on real files made by a child process under umask 0 (all
 * open), 022 (the usual) and 0277 (which would keep the daemon out of its
 * own directories).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, lstatSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makePrivateDir, makePrivateDirSync, openPrivate } from '../../src/util/private-files.js';

const CHILD = fileURLToPath(new URL('./private-files-child.js', import.meta.url));

/** Every path under `root` (itself included) with its permission bits. */
function modes(root: string): Map<string, number> {
  const out = new Map<string, number>();
  const walk = (p: string): void => {
    const st = lstatSync(p);
    out.set(p, st.mode & 0o7777);
    if (st.isDirectory()) for (const name of readdirSync(p)) walk(join(p, name));
  };
  walk(root);
  return out;
}

for (const umask of ['000', '022', '277']) {
  test(`the queue tree made under umask ${umask} is 0700 directories and 0600 files`, () => {
    const root = mkdtempSync(join(tmpdir(), 'postrider-private-'));
    try {
      const queueDir = join(root, 'spool', 'postrider');
      const r = spawnSync(process.execPath, [CHILD, queueDir, umask], { encoding: 'utf8', timeout: 60_000 });
      assert.equal(r.stdout.trim(), 'DONE', r.stderr);
      const found = modes(join(root, 'spool'));
      const kinds = { dirs: 0, files: 0 };
      for (const [path, mode] of found) {
        const dir = statSync(path).isDirectory();
        kinds[dir ? 'dirs' : 'files']++;
        assert.equal(mode.toString(8), (dir ? 0o700 : 0o600).toString(8), `${path}`);
      }
      // spool, the queue, journal, corrupt, pid, private, maildrop; segments, a corrupt record, master.pid, a maildrop file.
      assert.ok(kinds.dirs >= 7, `directories: ${[...found.keys()].join(' ')}`);
      assert.ok(kinds.files >= 4, `files: ${[...found.keys()].join(' ')}`);
      assert.equal(readdirSync(join(queueDir, 'corrupt')).length, 1);
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
}

test('an existing queue directory of its own is set to 0700, parents that exist are left alone, a file opened private becomes 0600', async () => {
  const root = mkdtempSync(join(tmpdir(), 'postrider-private-'));
  try {
    chmodSync(root, 0o755);
    mkdirSync(join(root, 'journal'), { mode: 0o755 });
    chmodSync(join(root, 'journal'), 0o755);
    await makePrivateDir(join(root, 'journal'));
    assert.equal(statSync(join(root, 'journal')).mode & 0o777, 0o700);
    makePrivateDirSync(join(root, 'a', 'b'));
    assert.equal(statSync(join(root, 'a')).mode & 0o777, 0o700);
    assert.equal(statSync(join(root, 'a', 'b')).mode & 0o777, 0o700);
    assert.equal(statSync(root).mode & 0o777, 0o755, 'an existing parent keeps its mode');
    // Concurrent makers of one tree (the journal and pickup at start) both succeed.
    await Promise.all([makePrivateDir(join(root, 'c', 'd')), makePrivateDir(join(root, 'c', 'd')), makePrivateDir(join(root, 'c', 'e'))]);
    assert.equal(statSync(join(root, 'c', 'd')).mode & 0o777, 0o700);
    const fh = await openPrivate(join(root, 'f'), 'w');
    await fh.close();
    chmodSync(join(root, 'f'), 0o644);
    await (await openPrivate(join(root, 'f'), 'a')).close();
    assert.equal(statSync(join(root, 'f')).mode & 0o777, 0o600);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
});
