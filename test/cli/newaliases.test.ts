/** `postrider newaliases` and the sendmail / mailq / newaliases program names. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtempSync, readdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { configDir, MAIN, postrider, type Run } from './cli-harness.js';
import { argvForProgramName } from '../../src/cli/main.js';

test('newaliases checks alias_database and prints what it read; a broken line is one error naming file and line', async () => {
  const c = configDir('alias_database = hash:aliases, inline:{ x=y }\nalias_maps = hash:aliases\n', '');
  try {
    writeFileSync(join(c.dir, 'aliases'), '# aliases\npostmaster: root\nroot: admin\nlist:\n  a, b\npostmaster: other\n');
    const ok = await postrider(['-c', c.dir, 'newaliases']);
    assert.equal(ok.code, 0, ok.stderr);
    // postmaster+root, root+admin, list+"a, b": 3 aliases, 14 + 9 + 8 bytes.
    assert.equal(ok.stdout, `${join(c.dir, 'aliases')}: 3 aliases, longest 14 bytes, 31 bytes total\ninline:{ x=y }: not an alias file; nothing to load\n`);
    assert.match(ok.stderr, /warning: .*aliases, line 6: duplicate entry: "postmaster"/);
    writeFileSync(join(c.dir, 'aliases'), 'postmaster: root\nthis line has no colon\n');
    const bad = await postrider(['-c', c.dir, 'newaliases']);
    assert.equal(bad.code, 1);
    assert.equal(bad.stderr, `postrider: fatal: ${join(c.dir, 'aliases')}, line 2: need name:value pair\n`);
  } finally {
    c.cleanup();
  }
});

function runAs(program: string, args: string[], env: NodeJS.ProcessEnv): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [program, ...args], { env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
    child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

test('invoked through links named newaliases, mailq and sendmail, the program is that command', async () => {
  assert.deepEqual(argvForProgramName('/usr/sbin/sendmail', ['-t', '-i']), ['sendmail', '-t', '-i']);
  assert.deepEqual(argvForProgramName('/usr/bin/mailq', []), ['queue']);
  assert.deepEqual(argvForProgramName('/usr/bin/newaliases', []), ['newaliases']);
  assert.deepEqual(argvForProgramName('/usr/bin/postrider', ['status']), ['status']);
  const c = configDir('alias_database = hash:aliases\nalias_maps = hash:aliases\n', '');
  const bin = mkdtempSync(join(tmpdir(), 'postrider-bin-'));
  try {
    writeFileSync(join(c.dir, 'aliases'), 'postmaster: root\n');
    for (const name of ['newaliases', 'mailq', 'sendmail']) symlinkSync(MAIN, join(bin, name));
    const env = { POSTRIDER_CONFIG: c.dir };
    const na = await runAs(join(bin, 'newaliases'), [], env);
    assert.equal(na.stdout, `${join(c.dir, 'aliases')}: 1 aliases, longest 14 bytes, 14 bytes total\n`, na.stderr);
    const bi = await runAs(join(bin, 'sendmail'), ['-bi'], env);
    assert.equal(bi.stdout, na.stdout);
    // mailq is `postrider queue`: with no daemon it reads the journal, as `postrider queue` does.
    const q = await runAs(join(bin, 'mailq'), [], env);
    const direct = await postrider(['-c', c.dir, 'queue']);
    assert.deepEqual([q.code, q.stdout, q.stderr], [direct.code, direct.stdout, direct.stderr]);
    assert.equal(q.code, 0, q.stderr);
    const bp = await runAs(join(bin, 'sendmail'), ['-bp'], env);
    assert.equal(bp.stderr, q.stderr);
    // sendmail drops the message into the maildrop directory while no daemon runs.
    const sm = await new Promise<number | null>((resolve) => {
      const child = spawn(process.execPath, [join(bin, 'sendmail'), 'root'], { env: { ...process.env, ...env }, stdio: ['pipe', 'ignore', 'inherit'] });
      child.stdin.end('Subject: cron\n\nhello\n');
      child.on('close', resolve);
    });
    assert.equal(sm, 0);
    assert.equal(readdirSync(join(c.queue, 'maildrop')).length, 1);
  } finally {
    c.cleanup();
    rmSync(bin, { recursive: true, force: true });
  }
});
