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

test('-bv collects no message: an empty verify-only file ("v") for the listed recipients, and the report\'s address on standard output', async () => {
  const s = await setup();
  try {
    const r = await run(s, ['-bv', '-f', 'alice@example.org', 'bob@remote.test', 'carol'], 'Subject: not read\n\nnot read either\n');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, 'Mail Delivery Status Report will be mailed to <alice@example.org>.\n');
    const [f] = await dropped(s);
    assert.deepEqual(f.envelope.flags, ['v']);
    assert.deepEqual(f.envelope.recipients, [{ address: 'bob@remote.test' }, { address: 'carol@example.test' }]);
    assert.equal(f.content, '', 'standard input is not read');
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
      [['-bs', 'bob@remote.test'], /stand-alone mode requires no recipient/],
      [['-bz'], /unsupported: -bz/],
      [['-bd', 'bob@remote.test'], /daemon mode requires no recipient/],
      [['-bi', 'bob@remote.test'], /alias initialization mode requires no recipient/],
      [['-I', 'bob@remote.test'], /alias initialization mode requires no recipient/],
      [['-bv'], /Recipient addresses must be specified/],
      [['-bv', '-t'], /-t can be used only in delivery mode/],
      [['-bp', 'bob@remote.test'], /display queue mode requires no recipient/],
      [['-q', 'bob@remote.test'], /flush queue mode requires no recipient/],
      [['-qX'], /-qX is not implemented/],
      [['-B', '9BIT', 'bob@remote.test'], /-B option needs 8BITMIME or 7BIT/],
      [['-n', 'bob@remote.test'], /-n option not supported/],
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

test('-F puts the full name in the From: header cleanup adds, quoted when needed; -B 8BITMIME is passed on as the body type', async () => {
  const s = await setup();
  try {
    const r = await run(s, ['-F', 'Alice Q. Example', '-B', '8BITMIME', '-f', 'alice@example.org', 'bob@remote.test'], 'Subject: caf\xe9\n\nbody\n');
    assert.equal(r.code, 0, r.stderr);
    const [file] = await dropped(s);
    assert.equal(file.envelope.fullName, 'Alice Q. Example');
    assert.equal(file.envelope.bodyType, '8BITMIME');
    const { fromHeaderValue } = await import('../../src/cleanup/cleanup.js');
    assert.equal(fromHeaderValue('alice@example.org', file.envelope.fullName), '"Alice Q. Example" <alice@example.org>');
    assert.equal(fromHeaderValue('alice@example.org', 'Alice Example'), 'Alice Example <alice@example.org>');
    assert.equal(fromHeaderValue('alice@example.org', undefined), 'alice@example.org');
  } finally {
    await rm(s.root, { recursive: true, force: true });
  }
});

test('-bs speaks SMTP on standard input and output and drops each message in the maildrop', async () => {
  const s = await setup(undefined, 'message_size_limit = 2000\n');
  try {
    const session = [
      'EHLO client.test', 'MAIL FROM:<alice@example.org> BODY=8BITMIME', 'RCPT TO:<bob@remote.test> NOTIFY=SUCCESS,FAILURE', 'RCPT TO:carol',
      'DATA', 'Subject: one', '', '..dot line', 'body', '.',
      'MAIL FROM:<x@example.org> SIZE=999999', 'MAIL FROM:<x@example.org> XFOO=1', 'RCPT TO:<y@remote.test>', 'DATA', 'BOGUS',
      'HELO client.test', 'MAIL FROM:<>', 'RCPT TO:<z@remote.test>', 'DATA', 'Subject: two', '', 'x', '.', 'QUIT', 'NOOP',
    ].join('\r\n') + '\r\n';
    const r = await run(s, ['-bs'], session);
    assert.equal(r.code, 0, r.stderr);
    const replies = r.stdout.split('\r\n').filter(Boolean);
    assert.equal(replies[0], '220 mx.example.test ESMTP Postrider');
    assert.ok(replies.includes('250-PIPELINING') && replies.includes('250-8BITMIME') && replies.includes('250-SIZE 2000'), replies.join('|'));
    const after = replies.slice(replies.findIndex((l) => l.startsWith('250 ')) + 1);
    assert.deepEqual(after.map((l) => l.replace(/queued as \S+/, 'queued as X')), [
      '250 2.1.0 Ok', '250 2.1.5 Ok', '250 2.1.5 Ok', '354 End data with <CR><LF>.<CR><LF>', '250 2.0.0 Ok: queued as X',
      '552 5.3.4 Message size exceeds fixed limit', '555 5.5.4 Unsupported option: XFOO=1', '503 5.5.1 Error: need MAIL command',
      '503 5.5.1 Error: need RCPT command', '502 5.5.2 Error: command not recognized',
      '250 mx.example.test', '250 2.1.0 Ok', '250 2.1.5 Ok', '354 End data with <CR><LF>.<CR><LF>', '250 2.0.0 Ok: queued as X',
      '221 2.0.0 Bye',
    ]);
    const files = await dropped(s);
    assert.equal(files.length, 2);
    const first = files.find((f) => f.envelope.sender === 'alice@example.org')!;
    assert.deepEqual(first.envelope.recipients, [{ address: 'bob@remote.test', notify: ['SUCCESS', 'FAILURE'] }, { address: 'carol@example.test' }]);
    assert.equal(first.envelope.bodyType, '8BITMIME');
    assert.equal(first.content, 'Subject: one\r\n\r\n.dot line\r\nbody\r\n');
    assert.ok(replies.some((l) => l.endsWith(`queued as ${first.name}`)), 'the reply names the maildrop file');
    const second = files.find((f) => f.envelope.sender === '')!;
    assert.deepEqual(second.envelope.recipients, [{ address: 'z@remote.test' }]);
  } finally {
    await rm(s.root, { recursive: true, force: true });
  }
});

test('-q with a run interval does nothing, and -q or -bh say what they cannot do without the daemon', async () => {
  const s = await setup();
  try {
    const interval = await run(s, ['-q30m'], '');
    assert.equal(interval.code, 0, interval.stderr);
    const ignored = await run(s, ['-bh'], '');
    assert.equal(ignored.code, 0, ignored.stderr);
    const flush = await run(s, ['-q'], '');
    assert.equal(flush.code, 69);
    assert.equal(flush.stderr, 'postrider/sendmail: fatal: Cannot flush mail queue - mail system is down\n');
  } finally {
    await rm(s.root, { recursive: true, force: true });
  }
});
