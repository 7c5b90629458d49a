/**
 * The compile cache: a command fills a private directory of its user under
 * TMPDIR with compiled code, an actor thread's environment names it, and a
 * directory someone else could write to (or a link to one) is never used;
 * the environment's own choice (NODE_COMPILE_CACHE, NODE_DISABLE_COMPILE_CACHE)
 * is left alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { chooseCacheDir, workerEnv } from '../../src/util/compile-cache.js';
import { CLI } from '../helpers/daemon.js';

const UID = process.getuid!();
const NAME = `postrider-compile-cache-${UID}`;

/** This process's environment without the variables that choose a compile cache, then `extra`. */
function plainEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = { ...process.env };
  delete env.NODE_COMPILE_CACHE;
  delete env.NODE_DISABLE_COMPILE_CACHE;
  return { ...env, ...extra };
}

/** Runs `postrider config mail_version` (a command that loads its modules after the start) with this environment. */
function runCommand(env: NodeJS.ProcessEnv): Promise<void> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [CLI, '-c', env.TMPDIR!, 'config', 'mail_version'], { env }, (err, stdout) => {
      if (err) reject(err);
      else if (!stdout.startsWith('mail_version = ')) reject(new Error(`unexpected output: ${stdout}`));
      else resolve();
    });
  });
}

/** Every file under dir, recursively. */
function filesUnder(dir: string): string[] {
  return readdirSync(dir, { recursive: true, withFileTypes: true }).filter((e) => e.isFile()).map((e) => e.name);
}

test('a command fills a 0700 cache directory of its user under TMPDIR', async () => {
  const base = mkdtempSync(join(tmpdir(), 'postrider-cc-'));
  try {
    await runCommand(plainEnv({ TMPDIR: base }));
    const dir = join(base, NAME);
    assert.equal(statSync(dir).mode & 0o777, 0o700);
    assert.ok(filesUnder(dir).length > 0, 'the command left its compiled modules in the cache');
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('NODE_DISABLE_COMPILE_CACHE and NODE_COMPILE_CACHE keep the command away from the directory', async () => {
  const base = mkdtempSync(join(tmpdir(), 'postrider-cc-'));
  try {
    await runCommand(plainEnv({ TMPDIR: base, NODE_DISABLE_COMPILE_CACHE: '1' }));
    assert.equal(existsSync(join(base, NAME)), false);
    const own = join(base, 'chosen');
    await runCommand(plainEnv({ TMPDIR: base, NODE_COMPILE_CACHE: own }));
    assert.equal(existsSync(join(base, NAME)), false);
    assert.ok(filesUnder(own).length > 0, 'the cache the environment names is used');
    assert.equal(chooseCacheDir(base, { NODE_COMPILE_CACHE: own }), undefined);
    assert.equal(chooseCacheDir(base, { NODE_DISABLE_COMPILE_CACHE: '1' }), undefined);
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('a directory others may write to, or a link, is never used, and the command still runs', async () => {
  const base = mkdtempSync(join(tmpdir(), 'postrider-cc-'));
  try {
    const dir = join(base, NAME);
    mkdirSync(dir);
    chmodSync(dir, 0o777);
    assert.equal(chooseCacheDir(base, {}), undefined);
    await runCommand(plainEnv({ TMPDIR: base }));
    assert.deepEqual(filesUnder(dir), [], 'nothing is written to a directory others can write to');
    rmSync(dir, { recursive: true });
    const elsewhere = mkdtempSync(join(tmpdir(), 'postrider-cc-target-'));
    try {
      symlinkSync(elsewhere, dir);
      assert.equal(chooseCacheDir(base, {}), undefined);
      await runCommand(plainEnv({ TMPDIR: base }));
      assert.deepEqual(filesUnder(elsewhere), [], 'nothing is written through a link');
    } finally {
      rmSync(elsewhere, { recursive: true, force: true });
    }
  } finally {
    rmSync(base, { recursive: true, force: true });
  }
});

test('an actor thread started with workerEnv() compiles through the cache', async () => {
  const env = workerEnv();
  const expected = process.env.NODE_COMPILE_CACHE || process.env.NODE_DISABLE_COMPILE_CACHE ? undefined : join(tmpdir(), NAME);
  assert.equal(env?.NODE_COMPILE_CACHE, expected);
  const dir = await new Promise<unknown>((resolve, reject) => {
    const w = new Worker(
      "const { parentPort } = require('node:worker_threads'); parentPort.postMessage(require('node:module').getCompileCacheDir() ?? null);",
      { eval: true, ...(env ? { env } : {}) },
    );
    w.once('message', (m) => {
      resolve(m);
      void w.terminate();
    });
    w.once('error', reject);
  });
  if (expected) assert.ok(typeof dir === 'string' && dir.startsWith(expected + '/'), `the thread's cache is ${String(dir)}`);
  else if (process.env.NODE_DISABLE_COMPILE_CACHE) assert.equal(dir, null);
  else assert.ok(typeof dir === 'string' && dir.startsWith(process.env.NODE_COMPILE_CACHE!), `the thread's cache is ${String(dir)}`);
});
