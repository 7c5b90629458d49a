/**
 * The queue directory half of `postrider check`, on real directories with
 * real modes, a real control socket, and a pid file naming a dead process.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { checkQueueDirectory, formatQueueProblem } from '../../src/admin/check-queue.js';
import { configDir, postrider } from './cli-harness.js';

function tempDir(): string {
  return mkdtempSync(join(tmpdir(), 'postrider-checkq-'));
}

/** Runs fn on a fresh temporary directory and removes the directory afterwards. */
async function inTempDir(fn: (root: string) => void | Promise<void>): Promise<void> {
  const root = tempDir();
  try {
    await fn(root);
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}

/** A queue directory laid out as the daemon leaves it, with sound modes: directories 0700, files 0600. */
function soundQueue(root: string): string {
  const q = join(root, 'queue');
  mkdirSync(q);
  for (const d of ['private', 'maildrop', 'journal', 'corrupt', 'pid']) {
    mkdirSync(join(q, d));
    chmodSync(join(q, d), 0o700);
  }
  writeFileSync(join(q, 'journal', '0000000001.seg'), Buffer.alloc(64));
  chmodSync(join(q, 'journal', '0000000001.seg'), 0o600);
  chmodSync(q, 0o700);
  return q;
}

const codes = (q: string, opts = {}): string[] => checkQueueDirectory(q, opts).map((p) => p.code);

test('a sound queue directory has no problems, and a missing one is created', () =>
  inTempDir((root) => {
    assert.deepEqual(checkQueueDirectory(soundQueue(root)), []);
    const fresh = join(root, 'new', 'spool');
    assert.deepEqual(checkQueueDirectory(fresh), []);
    assert.ok(statSync(fresh).isDirectory(), 'check creates the queue directory, as postfix check does');
    assert.equal(statSync(fresh).mode & 0o777, 0o700, 'private whatever the umask');
    assert.deepEqual(codes(join(root, 'absent'), { create: false }), ['QUEUE_MISSING']);
  }));

test('a queue directory that is a file, or cannot be created, is an error', () =>
  inTempDir((root) => {
    writeFileSync(join(root, 'file'), 'x');
    const p = checkQueueDirectory(join(root, 'file'));
    assert.equal(p.length, 1);
    assert.equal(p[0]!.severity, 'error');
    assert.equal(p[0]!.code, 'QUEUE_NOT_DIRECTORY');
    const under = checkQueueDirectory(join(root, 'file', 'spool'));
    assert.equal(under[0]!.code, 'QUEUE_MISSING');
    assert.match(under[0]!.message, /cannot be created/);
  }));

test('private/ and maildrop/ writable by others are errors; merely readable is a warning', () =>
  inTempDir((root) => {
    const q = soundQueue(root);
    chmodSync(join(q, 'private'), 0o777);
    chmodSync(join(q, 'maildrop'), 0o750);
    const p = checkQueueDirectory(q);
    const priv = p.find((x) => x.message.endsWith(join(q, 'private')))!;
    assert.equal(priv.severity, 'error');
    assert.equal(priv.code, 'QUEUE_WRITABLE_BY_OTHERS');
    assert.match(priv.message, /\(mode 0777, expected 0700\)/);
    const drop = p.find((x) => x.message.endsWith(join(q, 'maildrop')))!;
    assert.equal(drop.severity, 'warning');
    assert.equal(drop.code, 'QUEUE_TOO_OPEN');
    assert.equal(p.length, 2);
    chmodSync(q, 0o777);
    assert.ok(checkQueueDirectory(q).some((x) => x.code === 'QUEUE_WRITABLE_BY_OTHERS' && x.message.endsWith(`: ${q}`)));
  }));

test('a control socket open to others is an error; 0600 is fine', async () => {
  const root = tempDir();
  const server = createServer();
  try {
    const q = soundQueue(root);
    const path = join(q, 'private', 'control');
    await new Promise<void>((res) => server.listen(path, res));
    chmodSync(path, 0o600);
    assert.deepEqual(checkQueueDirectory(q), []);
    chmodSync(path, 0o666);
    const p = checkQueueDirectory(q);
    assert.equal(p.length, 1);
    assert.equal(p[0]!.severity, 'error');
    assert.match(p[0]!.message, /group or other writable \(mode 0666, expected 0600\): .*private\/control$/);
  } finally {
    await new Promise<void>((res) => server.close(() => res()));
    rmSync(root, { recursive: true, force: true });
  }
});

test('journal segments: writable by others, or not a regular file, is an error', () =>
  inTempDir((root) => {
    const q = soundQueue(root);
    writeFileSync(join(q, 'journal', '0000000002.seg'), 'x');
    chmodSync(join(q, 'journal', '0000000002.seg'), 0o666);
    mkdirSync(join(q, 'journal', '0000000003.seg'));
    // Files that are not segments are not the checker's business.
    writeFileSync(join(q, 'journal', 'notes.txt'), 'x', { mode: 0o666 });
    chmodSync(join(q, 'journal', 'notes.txt'), 0o666);
    const p = checkQueueDirectory(q);
    assert.equal(p.length, 2);
    assert.ok(p.every((x) => x.severity === 'error'));
    assert.match(p[0]!.message, /0000000002\.seg$/);
    assert.match(p[1]!.message, /not a regular file: .*0000000003\.seg$/);
  }));

test('a queue an older version left to the umask (0755 directories, 0644 files) is reported one line per path, with the mode found and expected', () =>
  inTempDir((root) => {
    const q = soundQueue(root);
    chmodSync(q, 0o755);
    for (const d of ['journal', 'corrupt', 'pid']) chmodSync(join(q, d), 0o755);
    chmodSync(join(q, 'journal', '0000000001.seg'), 0o644);
    writeFileSync(join(q, 'corrupt', '0000000001-100'), 'bad');
    chmodSync(join(q, 'corrupt', '0000000001-100'), 0o644);
    writeFileSync(join(q, 'pid', 'master.pid'), `${String(process.pid).padStart(10)}\n`);
    chmodSync(join(q, 'pid', 'master.pid'), 0o644);
    const p = checkQueueDirectory(q).filter((x) => x.code === 'QUEUE_TOO_OPEN');
    const expected = [
      [q, '0755', '0700'],
      [join(q, 'journal'), '0755', '0700'],
      [join(q, 'corrupt'), '0755', '0700'],
      [join(q, 'pid'), '0755', '0700'],
      [join(q, 'pid', 'master.pid'), '0644', '0600'],
      [join(q, 'journal', '0000000001.seg'), '0644', '0600'],
      [join(q, 'corrupt', '0000000001-100'), '0644', '0600'],
    ];
    assert.equal(p.length, expected.length, p.map(formatQueueProblem).join('\n'));
    for (const [path, found, want] of expected) {
      const line = p.filter((x) => x.message.endsWith(`: ${path}`));
      assert.equal(line.length, 1, `one line for ${path}`);
      assert.equal(line[0]!.severity, 'warning');
      assert.equal(formatQueueProblem(line[0]!), `postrider: warning: open to group or other (mode ${found}, expected ${want}): ${path}`);
    }
  }));

test('a mode that keeps the daemon out of its own queue (0500, 0400) is an error naming the mode expected', () =>
  inTempDir((root) => {
    const q = soundQueue(root);
    chmodSync(join(q, 'corrupt'), 0o500);
    writeFileSync(join(q, 'pid', 'master.pid'), `${String(process.pid).padStart(10)}\n`);
    chmodSync(join(q, 'pid', 'master.pid'), 0o400);
    const p = checkQueueDirectory(q);
    const closed = p.filter((x) => x.code === 'QUEUE_TOO_CLOSED');
    assert.equal(closed.length, 2, p.map(formatQueueProblem).join('\n'));
    assert.ok(closed.every((x) => x.severity === 'error'));
    assert.match(closed[0]!.message, /^not usable by its owner \(mode 0500, expected 0700\): .*corrupt$/);
    assert.match(closed[1]!.message, /^not usable by its owner \(mode 0400, expected 0600\): .*master\.pid$/);
    chmodSync(join(q, 'corrupt'), 0o700);
  }));

test('every record in corrupt/ is reported with its count', () =>
  inTempDir((root) => {
    const q = soundQueue(root);
    for (let i = 0; i < 3; i++) writeFileSync(join(q, 'corrupt', `0000000001.seg.${i * 100}`), 'bad', { mode: 0o600 });
    const p = checkQueueDirectory(q);
    assert.equal(p.length, 1);
    assert.equal(p[0]!.code, 'QUEUE_CORRUPT');
    assert.equal(formatQueueProblem(p[0]!), `postrider: warning: queue directory: 3 corrupt records in ${join(q, 'corrupt')}`);
  }));

test('a pid file naming a dead process is stale; one naming a live process is not', () =>
  inTempDir((root) => {
    const q = soundQueue(root);
    const pidFile = join(q, 'pid', 'master.pid');
    writeFileSync(pidFile, `${String(process.pid).padStart(10)}\n`, { mode: 0o600 });
    assert.deepEqual(checkQueueDirectory(q), []);
    const dead = spawnSync(process.execPath, ['-e', '0']).pid!;
    writeFileSync(pidFile, `${String(dead).padStart(10)}\n`);
    const p = checkQueueDirectory(q);
    assert.equal(p.length, 1);
    assert.equal(p[0]!.code, 'QUEUE_STALE_PID');
    assert.match(p[0]!.message, new RegExp(`stale pid file .*master\\.pid: process ${dead} is not running`));
    writeFileSync(pidFile, 'garbage\n');
    assert.match(checkQueueDirectory(q)[0]!.message, /holds no process id/);
  }));

test('entries owned by another user are warnings', () =>
  inTempDir((root) => {
    const q = soundQueue(root);
    const me = statSync(q).uid;
    const p = checkQueueDirectory(q, { uid: me + 1 });
    assert.ok(p.length >= 6, 'the directory, its subdirectories and the segment');
    assert.ok(p.every((x) => x.code === 'QUEUE_OWNER' && x.severity === 'warning'));
    assert.match(p[0]!.message, new RegExp(`not owned by uid ${me + 1} \\(owner uid ${me}\\): ${q}$`));
  }));

test('postrider check prints queue problems on standard error and exits 1 on an error', async () => {
  const c = configDir('', '');
  try {
    const ok = await postrider(['-c', c.dir, 'check']);
    assert.equal(ok.code, 0, ok.stderr);
    assert.ok(statSync(c.queue).isDirectory());
    mkdirSync(join(c.queue, 'corrupt'));
    writeFileSync(join(c.queue, 'corrupt', 'r1'), 'bad');
    const warn = await postrider(['-c', c.dir, 'check']);
    assert.equal(warn.code, 0);
    assert.match(warn.stderr, /^postrider: warning: queue directory: 1 corrupt record in .*corrupt$/m);
    mkdirSync(join(c.queue, 'private'));
    chmodSync(join(c.queue, 'private'), 0o777);
    const bad = await postrider(['-c', c.dir, 'check']);
    assert.equal(bad.code, 1);
    assert.match(bad.stderr, /^postrider: error: group or other writable \(mode 0777, expected 0700\): .*private$/m);
  } finally {
    c.cleanup();
  }
});
