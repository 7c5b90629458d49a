/**
 * cleanup content checks: header_checks inline (each action, log lines as
 * Postfix), body_checks and mime_header_checks through the worker pool; and
 * what keeps them from stalling: linear-time patterns, the budget of
 * backreference rules, body_checks_time_limit, mime_nesting_limit.
 */
process.env.TZ = 'UTC';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HEADER_CHECKS_BUDGET_MS, type Cleanup } from '../../src/cleanup/cleanup.js';
import { logLines, makeCleanup, queued, smtpInput, SUFFIX } from './cleanup-fixture.js';
import { nestedMimeMessage } from '../helpers/nested-mime.js';

let dir: string;
let headers: Cleanup;
let body: Cleanup;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cleanup-checks-'));
  await writeFile(
    join(dir, 'header_checks'),
    [
      '/^Subject:.*dunno-me/ DUNNO',
      '/^Subject:.*reject-plain/ REJECT',
      '/^Subject:.*reject-text/ REJECT no spam here',
      '/^Subject:.*reject-code/ REJECT 5.7.0 custom code',
      '/^Subject:.*discard-me/ DISCARD dropped',
      '/^Subject:.*hold-me/ HOLD held for review',
      '/^Subject:.*warn-me/ WARN watch this',
      '/^X-Secret:/ IGNORE',
      '/^Subject:.*folded part two/ REJECT folded match',
      '',
    ].join('\n'),
  );
  await writeFile(join(dir, 'body_checks'), ['/^BUY NOW/ REJECT body spam', '/drop-this-body/ DISCARD', '/hold-this-body/ HOLD', ''].join('\n'));
  await writeFile(join(dir, 'mime_header_checks'), ['/^Content-Disposition:.*filename=.*\\.exe/ REJECT executable attachment', ''].join('\n'));
  headers = makeCleanup({ header_checks: 'regexp:header_checks' }, dir);
  body = makeCleanup({ body_checks: 'regexp:body_checks', mime_header_checks: 'regexp:mime_header_checks', body_checks_size_limit: '2000' }, dir);
});

after(async () => {
  await headers.close();
  await body.close();
  await rm(dir, { recursive: true, force: true });
});

test('header_checks REJECT: default text, given text, given status code; logged as Postfix', async () => {
  logLines.length = 0;
  assert.deepEqual(await headers.process(smtpInput('Subject: reject-plain\r\n\r\nx\r\n')), { action: 'reject', reason: '5.7.1 message content rejected' });
  assert.ok(
    logLines.some((l) => l.endsWith(`cleanup[1]: 4ZxYqT1abcDEF: reject: header Subject: reject-plain${SUFFIX}: 5.7.1 message content rejected`)),
    logLines.join('\n'),
  );
  assert.deepEqual(await headers.process(smtpInput('Subject: reject-text\r\n\r\nx\r\n')), { action: 'reject', reason: '5.7.1 no spam here' });
  assert.deepEqual(await headers.process(smtpInput('Subject: reject-code\r\n\r\nx\r\n')), { action: 'reject', reason: '5.7.0 custom code' });
});

test('header_checks match the unfolded header', async () => {
  const r = await headers.process(smtpInput('Subject: folded\r\n part two\r\n\r\nx\r\n'));
  assert.deepEqual(r, { action: 'reject', reason: '5.7.1 folded match' });
});

test('header_checks DISCARD drops the message and logs it', async () => {
  logLines.length = 0;
  assert.deepEqual(await headers.process(smtpInput('Subject: discard-me\r\n\r\nx\r\n')), { action: 'discard', reason: 'dropped' });
  assert.ok(logLines.some((l) => l.endsWith(`4ZxYqT1abcDEF: discard: header Subject: discard-me${SUFFIX}: dropped`)), logLines.join('\n'));
});

test('header_checks HOLD queues the message on hold', async () => {
  logLines.length = 0;
  const m = queued(await headers.process(smtpInput('Subject: hold-me\r\n\r\nx\r\n')));
  assert.equal(m.hold, true);
  assert.ok(logLines.some((l) => l.endsWith(`4ZxYqT1abcDEF: hold: header Subject: hold-me${SUFFIX}: held for review`)));
});

test('header_checks WARN only logs; DUNNO and no match do nothing', async () => {
  logLines.length = 0;
  const m = queued(await headers.process(smtpInput('Subject: warn-me\r\n\r\nx\r\n')));
  assert.equal(m.hold, undefined);
  assert.ok(logLines.some((l) => l.endsWith(`4ZxYqT1abcDEF: warning: header Subject: warn-me${SUFFIX}: watch this`)));
  assert.equal(queued(await headers.process(smtpInput('Subject: dunno-me reject-plain\r\n\r\nx\r\n'))).hold, undefined);
  assert.equal(queued(await headers.process(smtpInput('Subject: fine\r\n\r\nx\r\n'))).hold, undefined);
});

test('header_checks IGNORE removes the header and keeps every other byte', async () => {
  const input = 'Subject: keep\r\nX-Secret: a\r\n\tcontinued\r\nX-Other: b\r\nX-SECRET: again\r\n\r\nbody\r\n';
  const m = queued(await headers.process(smtpInput(input)));
  const text = Buffer.from(m.content).toString();
  assert.ok(text.endsWith('\r\nSubject: keep\r\nX-Other: b\r\n\r\nbody\r\n'), text);
  assert.equal(m.headerLength, text.length - 'body\r\n'.length);
});

test('body_checks REJECT, DISCARD and HOLD run through the pool', async () => {
  logLines.length = 0;
  assert.deepEqual(await body.process(smtpInput('Subject: x\r\n\r\nhello\r\nBUY NOW cheap\r\n')), { action: 'reject', reason: '5.7.1 body spam' });
  assert.ok(logLines.some((l) => l.endsWith(`4ZxYqT1abcDEF: reject: body BUY NOW cheap${SUFFIX}: 5.7.1 body spam`)), logLines.join('\n'));
  assert.equal((await body.process(smtpInput('Subject: x\r\n\r\nplease drop-this-body\r\n'))).action, 'discard');
  assert.equal(queued(await body.process(smtpInput('Subject: x\r\n\r\nhold-this-body\r\n'))).hold, true);
  // Header lines are not body: body_checks do not see them.
  const clean = queued(await body.process(smtpInput('Subject: BUY NOW\r\n\r\nnothing here\r\n')));
  assert.equal(Buffer.from(clean.content).subarray(clean.headerLength).toString(), 'nothing here\r\n');
});

test('body_checks see each MIME part up to body_checks_size_limit; mime_header_checks see part headers', async () => {
  const mime = (partBody: string, disposition: string) =>
    'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\npreamble\r\n--b1\r\nContent-Type: text/plain\r\n\r\nfirst part\r\n' +
    `--b1\r\nContent-Type: application/octet-stream\r\nContent-Disposition: attachment;\r\n filename="${disposition}"\r\n\r\n${partBody}\r\n--b1--\r\n`;
  assert.deepEqual(await body.process(smtpInput(mime('data', 'setup.exe'))), { action: 'reject', reason: '5.7.1 executable attachment' });
  assert.deepEqual(await body.process(smtpInput(mime('BUY NOW', 'notes.txt'))), { action: 'reject', reason: '5.7.1 body spam' });
  // Past the per-part limit the line is not checked; a new part starts counting again.
  const filler = ('f'.repeat(98) + '\r\n').repeat(25);
  assert.equal((await body.process(smtpInput(mime(filler + 'BUY NOW', 'notes.txt')))).action, 'queue');
});

test('only mime_header_checks set: a plain message skips the pool, a multipart one is checked', async () => {
  const c = makeCleanup({ mime_header_checks: 'regexp:mime_header_checks' }, dir);
  queued(await c.process(smtpInput('Subject: plain\r\n\r\nContent-Disposition: attachment; filename=x.exe\r\n')));
  assert.equal((c as unknown as { pool: { started: boolean } }).pool.started, false);
  const r = await c.process(
    smtpInput('Content-Type: multipart/mixed; boundary=zz\r\n\r\n--zz\r\nContent-Disposition: attachment; filename=x.exe\r\n\r\nMZ\r\n--zz--\r\n'),
  );
  assert.deepEqual(r, { action: 'reject', reason: '5.7.1 executable attachment' });
  await c.close();
});

test('a missing table is found when cleanup is built', () => {
  assert.throws(() => makeCleanup({ header_checks: 'regexp:no-such-file' }, dir), /no-such-file/);
  assert.throws(() => makeCleanup({ body_checks: 'pcre:no-such-file' }, dir), /no-such-file/);
});

test('body_checks see a very long line in 2048-character pieces', async () => {
  const line = 'a'.repeat(3000) + 'BUY NOW' + 'b'.repeat(100);
  // Inside a piece the anchored rule does not fire; at the start of the second piece it does.
  assert.equal((await body.process(smtpInput(`Subject: x\r\n\r\n${line}\r\n`))).action, 'queue');
  const atPiece = 'a'.repeat(2048) + 'BUY NOW' + 'b'.repeat(100);
  assert.deepEqual(await body.process(smtpInput(`Subject: x\r\n\r\n${atPiece}\r\n`)), { action: 'reject', reason: '5.7.1 body spam' });
});

test('primary MIME headers go to mime_header_checks, which defaults to $header_checks, as in Postfix', async () => {
  const d = await mkdtemp(join(tmpdir(), 'cleanup-mimehdr-'));
  try {
    await writeFile(join(d, 'hc'), ['/^Content-Type:.*x-evil/ REJECT evil type', '/^Subject:.*evil/ REJECT evil subject', ''].join('\n'));
    await writeFile(join(d, 'mhc'), ['/^MIME-Version:.*2\\.0/ REJECT unknown MIME version', ''].join('\n'));
    const msg = (subject: string, type: string): string => `Subject: ${subject}\r\nMIME-Version: 1.0\r\nContent-Type: ${type}\r\n\r\nx\r\n`;
    const byDefault = makeCleanup({ header_checks: 'regexp:hc' }, d);
    const split = makeCleanup({ header_checks: 'regexp:hc', mime_header_checks: 'regexp:mhc' }, d);
    const none = makeCleanup({ header_checks: 'regexp:hc', mime_header_checks: '' }, d);
    try {
      const evilType = msg('fine', 'application/x-evil');
      assert.deepEqual(await byDefault.process(smtpInput(evilType)), { action: 'reject', reason: '5.7.1 evil type' });
      assert.equal((await split.process(smtpInput(evilType))).action, 'queue', 'Content-Type is looked up in mime_header_checks only');
      assert.equal((await none.process(smtpInput(evilType))).action, 'queue', 'an empty mime_header_checks checks no MIME header');
      assert.deepEqual(await none.process(smtpInput(msg('evil', 'text/plain'))), { action: 'reject', reason: '5.7.1 evil subject' });
      const v2 = 'Subject: fine\r\nMIME-Version: 2.0\r\n\r\nx\r\n';
      assert.deepEqual(await split.process(smtpInput(v2)), { action: 'reject', reason: '5.7.1 unknown MIME version' });
    } finally {
      await Promise.all([byDefault.close(), split.close(), none.close()]);
    }
  } finally {
    await rm(d, { recursive: true, force: true });
  }
});

test('line_length_limit: body_checks see long lines in pieces of that length', async () => {
  const c = makeCleanup({ body_checks: 'regexp:body_checks', line_length_limit: '100' }, dir);
  try {
    const atPiece = 'a'.repeat(100) + 'BUY NOW';
    assert.deepEqual(await c.process(smtpInput(`Subject: x\r\n\r\n${atPiece}\r\n`)), { action: 'reject', reason: '5.7.1 body spam' });
    // With the default 2048, the same line is one piece and the anchored rule does not fire.
    assert.equal((await body.process(smtpInput(`Subject: x\r\n\r\n${atPiece}\r\n`))).action, 'queue');
  } finally {
    await c.close();
  }
});

test('nested_header_checks see the headers of an attached message; its MIME headers go to mime_header_checks', async () => {
  const d = await mkdtemp(join(tmpdir(), 'cleanup-nested-'));
  try {
    await writeFile(join(d, 'nested'), '/^Subject:.*forwarded spam/ REJECT nested spam\n/^Content-Type:.*evil/ REJECT nested sees MIME\n');
    await writeFile(join(d, 'mime'), '/^Content-Type:.*evil/ REJECT mime sees it\n');
    const attached = (subject: string, type = 'text/plain') =>
      'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n--b1\r\nContent-Type: text/plain\r\n\r\nsee attached\r\n' +
      `--b1\r\nContent-Type: message/rfc822\r\n\r\nFrom: x@y.example\r\nSubject: ${subject}\r\nContent-Type: ${type}\r\n\r\ninner body\r\n--b1--\r\n`;
    const c = makeCleanup({ nested_header_checks: 'regexp:nested', mime_header_checks: 'regexp:mime' }, d);
    try {
      assert.deepEqual(await c.process(smtpInput(attached('forwarded spam'))), { action: 'reject', reason: '5.7.1 nested spam' });
      assert.deepEqual(await c.process(smtpInput(attached('fine', 'text/evil'))), { action: 'reject', reason: '5.7.1 mime sees it' });
      assert.equal((await c.process(smtpInput(attached('fine')))).action, 'queue');
      // A primary header with the same text is not nested: nested_header_checks do not see it.
      assert.equal((await c.process(smtpInput('Subject: forwarded spam\r\n\r\nhi\r\n'))).action, 'queue');
    } finally {
      await c.close();
    }
    const off = makeCleanup({ mime_header_checks: 'regexp:mime' }, d);
    try {
      assert.equal((await off.process(smtpInput(attached('forwarded spam')))).action, 'queue', 'without nested_header_checks the attached Subject passes');
    } finally {
      await off.close();
    }
  } finally {
    await rm(d, { recursive: true, force: true });
  }
});

const HOSTILE = 'a'.repeat(40) + '!';

test('header_checks that would backtrack forever: RE2 answers at once, a backreference rule fails within its budget and defers', async () => {
  const d = await mkdtemp(join(tmpdir(), 'cleanup-redos-'));
  try {
    await writeFile(join(d, 'hc'), '/^Subject: (a+)+$/ REJECT nested quantifier\n');
    await writeFile(join(d, 'hc_backref'), '/^Subject: (a+)+\\1$/ REJECT backreference\n');
    const linear = makeCleanup({ header_checks: 'regexp:hc' }, d);
    const backref = makeCleanup({ header_checks: `pcre:${join(d, 'hc_backref')}` }, d);
    try {
      queued(await linear.process(smtpInput(`Subject: ${HOSTILE}\r\n\r\nx\r\n`)));
      assert.deepEqual(await linear.process(smtpInput('Subject: aaaa\r\n\r\nx\r\n')), { action: 'reject', reason: '5.7.1 nested quantifier' });
      logLines.length = 0;
      assert.deepEqual(await backref.process(smtpInput(`Subject: ${HOSTILE}\r\n\r\nx\r\n`)), { action: 'reject', reason: '4.3.0 header_checks map lookup problem' });
      assert.ok(logLines.some((l) => l.endsWith(`warning: pcre map ${join(d, 'hc_backref')}, line 1: match time limit of ${HEADER_CHECKS_BUDGET_MS} ms exceeded`)), logLines.join('\n'));
      assert.ok(logLines.some((l) => l.endsWith('warning: 4ZxYqT1abcDEF: header_checks map lookup problem -- message not accepted, try again later')), logLines.join('\n'));
      assert.deepEqual(await backref.process(smtpInput('Subject: aa\r\n\r\nx\r\n')), { action: 'reject', reason: '5.7.1 backreference' }, 'the next message is checked as usual');
    } finally {
      await Promise.all([linear.close(), backref.close()]);
    }
  } finally {
    await rm(d, { recursive: true, force: true });
  }
});

test('a body check past body_checks_time_limit defers the message, and the next one is checked', async () => {
  const d = await mkdtemp(join(tmpdir(), 'cleanup-stuck-'));
  try {
    await writeFile(join(d, 'bc'), '/^(a+)+\\1$/ REJECT stuck\n/^BUY NOW/ REJECT body spam\n');
    const c = makeCleanup({ body_checks: 'pcre:bc', body_checks_time_limit: '1s' }, d);
    try {
      logLines.length = 0;
      assert.deepEqual(await c.process(smtpInput(`Subject: x\r\n\r\n${HOSTILE}\r\n`)), { action: 'reject', reason: '4.3.0 body_checks_time_limit exceeded' });
      assert.ok(logLines.some((l) => l.endsWith('warning: 4ZxYqT1abcDEF: body_checks_time_limit (1 s) exceeded -- message not accepted, try again later')), logLines.join('\n'));
      assert.deepEqual(await c.process(smtpInput('Subject: x\r\n\r\nBUY NOW\r\n')), { action: 'reject', reason: '5.7.1 body spam' });
    } finally {
      await c.close();
    }
  } finally {
    await rm(d, { recursive: true, force: true });
  }
});

test('MIME nesting past mime_nesting_limit is rejected as Postfix does when header checks are in use, and only then', async () => {
  const d = await mkdtemp(join(tmpdir(), 'cleanup-nesting-'));
  try {
    await writeFile(join(d, 'hc'), '/^Subject: never/ REJECT\n');
    await writeFile(join(d, 'bc'), '/^never matches$/ REJECT\n');
    const withHeaderChecks = makeCleanup({ header_checks: 'regexp:hc' }, d);
    const bodyOnly = makeCleanup({ body_checks: 'regexp:bc' }, d);
    const deep = nestedMimeMessage(40_000);
    try {
      logLines.length = 0;
      assert.deepEqual(await withHeaderChecks.process(smtpInput(deep)), { action: 'reject', reason: '5.6.0 MIME nesting exceeds safety limit' });
      assert.ok(
        logLines.some((l) => l.endsWith('4ZxYqT1abcDEF: reject: mime-error MIME nesting exceeds safety limit: Content-Type: multipart/mixed; boundary="b102" from mail.sender.example[192.0.2.10]; from=<alice@sender.example> to=<bob@rcpt.example>')),
        logLines.join('\n'),
      );
      queued(await withHeaderChecks.process(smtpInput(nestedMimeMessage(100))));
      queued(await bodyOnly.process(smtpInput(deep)));
    } finally {
      await Promise.all([withHeaderChecks.close(), bodyOnly.close()]);
    }
  } finally {
    await rm(d, { recursive: true, force: true });
  }
});
