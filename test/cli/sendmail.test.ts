import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import { runSendmail } from '../../src/cli/cli-sendmail.js';
import { decodeMaildropFile, type MaildropEnvelope } from '../../src/global/maildrop-file.js';

interface Setup {
  root: string;
  configDir: string;
  queueDir: string;
}

async function setup(queueDirValue?: string, extra = ''): Promise<Setup> {
  const root = await mkdtemp(join(tmpdir(), 'sendmail-'));
  const configDir = join(root, 'etc');
  const queueDir = join(root, 'queue');
  await import('node:fs/promises').then((fs) => fs.mkdir(configDir));
  await writeFile(
    join(configDir, 'main.cf'),
    `queue_directory = ${queueDirValue ?? queueDir}\nmyhostname = mx.example.test\nmyorigin = example.test\n${extra}`,
  );
  return { root, configDir, queueDir };
}

async function run(s: Setup, argv: string[], input: string | Buffer): Promise<{ code: number; stderr: string; stdout: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  const out: Buffer[] = [];
  const err: Buffer[] = [];
  stdout.on('data', (c: Buffer) => out.push(c));
  stderr.on('data', (c: Buffer) => err.push(c));
  const code = await runSendmail(argv, { configDir: s.configDir, stdin: Readable.from([Buffer.from(input)]), stdout, stderr });
  return { code, stdout: Buffer.concat(out).toString(), stderr: Buffer.concat(err).toString() };
}

async function dropped(s: Setup): Promise<Array<{ name: string; envelope: MaildropEnvelope; content: string }>> {
  const dir = join(s.queueDir, 'maildrop');
  const names = (await readdir(dir)).sort();
  return Promise.all(
    names.map(async (name) => {
      const { envelope, content } = decodeMaildropFile(await readFile(join(dir, name)));
      return { name, envelope, content: content.toString('latin1') };
    }),
  );
}

test('drops one complete file with the envelope and CRLF content, no temporary left', async () => {
  const s = await setup();
  try {
    const r = await run(s, ['-f', '<alice@example.org>', '-F', 'Alice A', 'bob@remote.test'], 'Subject: hi\n\nline 1\nline 2\n');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stderr, '');
    const files = await dropped(s);
    assert.equal(files.length, 1);
    assert.ok(!files[0].name.startsWith('.'));
    const { envelope, content } = files[0];
    assert.equal(envelope.sender, 'alice@example.org');
    assert.equal(envelope.fullName, 'Alice A');
    assert.deepEqual(envelope.recipients, [{ address: 'bob@remote.test' }]);
    assert.equal(envelope.uid, process.getuid?.() ?? 0);
    assert.ok(Math.abs(envelope.arrivalTime - Date.now()) < 60_000);
    assert.equal(content, 'Subject: hi\r\n\r\nline 1\r\nline 2\r\n');
  } finally {
    await rm(s.root, { recursive: true, force: true });
  }
});

test('default sender is the login name at $myorigin; bare recipients are qualified', async () => {
  const s = await setup();
  try {
    const r = await run(s, ['carol', 'dave@remote.test,erin@remote.test'], 'Subject: x\r\n\r\nbody\r\n');
    assert.equal(r.code, 0, r.stderr);
    const [f] = await dropped(s);
    assert.equal(f.envelope.sender, `${userInfo().username}@example.test`);
    assert.deepEqual(
      f.envelope.recipients.map((x) => x.address),
      ['carol@example.test', 'dave@remote.test', 'erin@remote.test'],
    );
    assert.equal(f.content, 'Subject: x\r\n\r\nbody\r\n', 'CRLF input stays as it is');
  } finally {
    await rm(s.root, { recursive: true, force: true });
  }
});

test('-t takes To/Cc/Bcc recipients plus the command line ones and removes Bcc', async () => {
  const s = await setup();
  try {
    const input =
      'From: alice@example.org\n' +
      'To: "Bob, B." <bob@remote.test>, carol@remote.test\n' +
      'Cc: team: dave@remote.test, erin@remote.test;\n' +
      'Bcc: secret@remote.test,\n' +
      '  hidden@remote.test\n' +
      'Subject: blind copies\n' +
      '\n' +
      'To: not-a-header@remote.test\n';
    const r = await run(s, ['-t', '-f', 'alice@example.org', 'extra@remote.test'], input);
    assert.equal(r.code, 0, r.stderr);
    const [f] = await dropped(s);
    assert.deepEqual(
      f.envelope.recipients.map((x) => x.address),
      ['extra@remote.test', 'bob@remote.test', 'carol@remote.test', 'dave@remote.test', 'erin@remote.test', 'secret@remote.test', 'hidden@remote.test'],
    );
    assert.ok(!/bcc|secret|hidden/i.test(f.content), 'Bcc and its continuation are gone');
    assert.ok(f.content.startsWith('From: alice@example.org\r\nTo: "Bob, B." <bob@remote.test>, carol@remote.test\r\nCc: team:'));
    assert.ok(f.content.endsWith('\r\n\r\nTo: not-a-header@remote.test\r\n'), 'the body is left alone');
    assert.deepEqual(f.envelope.flags, ['t']);
  } finally {
    await rm(s.root, { recursive: true, force: true });
  }
});

test('-t uses the Resent- headers when present', async () => {
  const s = await setup();
  try {
    const input = 'To: original@remote.test\nResent-To: new@remote.test\nResent-Bcc: blind@remote.test\nSubject: fwd\n\nbody\n';
    const r = await run(s, ['-t'], input);
    assert.equal(r.code, 0, r.stderr);
    const [f] = await dropped(s);
    assert.deepEqual(f.envelope.recipients.map((x) => x.address), ['new@remote.test', 'blind@remote.test']);
    assert.ok(!f.content.includes('blind@'));
  } finally {
    await rm(s.root, { recursive: true, force: true });
  }
});

test('a lone dot ends input unless -i or -oi is given', async () => {
  const s = await setup();
  try {
    const input = 'Subject: dots\n\nbefore\n..stuffed stays\n.\nafter\n';
    assert.equal((await run(s, ['bob@remote.test'], input)).code, 0);
    assert.equal((await run(s, ['-i', 'bob@remote.test'], input)).code, 0);
    assert.equal((await run(s, ['-oi', 'bob@remote.test'], input)).code, 0);
    const files = await dropped(s);
    assert.equal(files.length, 3);
    const contents = files.map((f) => f.content).sort();
    const cut = 'Subject: dots\r\n\r\nbefore\r\n..stuffed stays\r\n';
    const whole = 'Subject: dots\r\n\r\nbefore\r\n..stuffed stays\r\n.\r\nafter\r\n';
    assert.deepEqual(contents, [cut, whole, whole].sort());
  } finally {
    await rm(s.root, { recursive: true, force: true });
  }
});

test('-N, -R and -V reach the envelope; a leading mbox From line is dropped', async () => {
  const s = await setup();
  try {
    const r = await run(s, ['-N', 'success,failure', '-R', 'hdrs', '-V', 'ENV123', '-f', '<>', 'bob@remote.test'], 'From alice Sat Nov 28 10:00:00 2026\nSubject: n\n\nx');
    assert.equal(r.code, 0, r.stderr);
    const [f] = await dropped(s);
    assert.equal(f.envelope.sender, '');
    assert.deepEqual(f.envelope.recipients, [{ address: 'bob@remote.test', notify: ['SUCCESS', 'FAILURE'] }]);
    assert.equal(f.envelope.ret, 'HDRS');
    assert.equal(f.envelope.envid, 'ENV123');
    assert.equal(f.content, 'Subject: n\r\n\r\nx\r\n', 'an unterminated last line is ended');
  } finally {
    await rm(s.root, { recursive: true, force: true });
  }
});

test('an unwritable queue directory fails with exit 75 and one line', async () => {
  const root = await mkdtemp(join(tmpdir(), 'sendmail-'));
  const blocker = join(root, 'not-a-dir');
  await writeFile(blocker, 'a file where the queue directory should be');
  const s = await setup(blocker);
  try {
    const r = await run(s, ['bob@remote.test'], 'Subject: x\n\nbody\n');
    assert.equal(r.code, 75);
    assert.match(r.stderr, /^postrider\/sendmail: fatal: cannot create maildrop directory .*not-a-dir\/maildrop: not a directory\n$/);
    assert.equal(r.stderr.split('\n').length, 2, 'exactly one line');
  } finally {
    await rm(s.root, { recursive: true, force: true });
    await rm(root, { recursive: true, force: true });
  }
});

test('usage errors exit 64 with one line', async () => {
  const s = await setup();
  try {
    const cases: Array<[string[], RegExp]> = [
      [[], /Recipient addresses must be specified/],
      [['-Z', 'bob@remote.test'], /unknown option -Z/],
      [['-bs'], /-bs: mode not supported/],
      [['-f'], /option -f requires an argument/],
      [['-t'], /No recipient addresses found in message header/],
      [['-N', 'sometimes', 'bob@remote.test'], /-N sometimes/],
    ];
    for (const [argv, why] of cases) {
      const r = await run(s, argv, 'Subject: x\n\nbody\n');
      assert.equal(r.code, 64, `${argv.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, /^postrider\/sendmail: fatal: [^\n]+\n$/);
      assert.match(r.stderr, why);
    }
    await assert.rejects(readdir(join(s.queueDir, 'maildrop')), { code: 'ENOENT' }, 'nothing was written');
  } finally {
    await rm(s.root, { recursive: true, force: true });
  }
});

test('works from a real process reading its own standard input', async () => {
  const s = await setup();
  try {
    const moduleUrl = new URL('../../src/cli/cli-sendmail.js', import.meta.url).href;
    const script =
      `const { runSendmail } = await import(${JSON.stringify(moduleUrl)});` +
      `process.exitCode = await runSendmail(process.argv.slice(1), { configDir: ${JSON.stringify(s.configDir)}, stdin: process.stdin, stdout: process.stdout, stderr: process.stderr });`;
    const child = spawn(process.execPath, ['--input-type=module', '-e', script, '--', '-t'], { stdio: ['pipe', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.stdin.end('To: piped@remote.test\nSubject: pipe\n\nfrom a pipe\n');
    const code = await new Promise<number | null>((resolve) => child.on('close', resolve));
    assert.equal(code, 0, stderr);
    const [f] = await dropped(s);
    assert.deepEqual(f.envelope.recipients.map((x) => x.address), ['piped@remote.test']);
    assert.equal(f.content, 'To: piped@remote.test\r\nSubject: pipe\r\n\r\nfrom a pipe\r\n');
  } finally {
    await rm(s.root, { recursive: true, force: true });
  }
});


test('a message over message_size_limit fails with exit 65 and writes nothing', async () => {
  const s = await setup(undefined, 'message_size_limit = 1000\n');
  try {
    const r = await run(s, ['bob@remote.test'], 'Subject: big\n\n' + 'x'.repeat(2000) + '\n');
    assert.equal(r.code, 65);
    assert.equal(r.stderr, 'postrider/sendmail: fatal: message file too big\n');
    await assert.rejects(readdir(join(s.queueDir, 'maildrop')), { code: 'ENOENT' });
  } finally {
    await rm(s.root, { recursive: true, force: true });
  }
});
