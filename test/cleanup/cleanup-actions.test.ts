/**
 * cleanup content check actions that change the message or its envelope:
 * PREPEND, REPLACE, REDIRECT, BCC and INFO, from header_checks inline and
 * from body_checks / mime_header_checks through the worker pool; the bytes,
 * the recipients and the log lines, as Postfix writes them.
 */
process.env.TZ = 'UTC';
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Cleanup } from '../../src/cleanup/cleanup.js';
import type { NewMessage } from '../../src/store/store-types.js';
import { afterReceived, logLines, makeCleanup, queued, smtpInput, SUFFIX } from './cleanup-fixture.js';

let dir: string;
let headers: Cleanup;
let body: Cleanup;

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'cleanup-actions-'));
  await writeFile(
    join(dir, 'header_checks'),
    [
      '/^Subject:.*tag-me/ PREPEND X-Tag: tagged',
      '/^Subject:.*bad-prepend/ PREPEND not a header line',
      '/^Subject:.*empty-prepend/ PREPEND',
      '/^X-Folded:/ PREPEND X-Before-Folded: yes',
      '/^Subject:.*replace-me/ REPLACE Subject: [replaced]',
      '/^Subject:.*bad-replace/ REPLACE no colon here',
      '/^Message-ID:.*<old@id.example>/ REPLACE Message-ID: <new@id.example>',
      '/^Subject:.*redirect-first/ REDIRECT first@rcpt.example',
      '/^X-Route:.*redirect-team/ REDIRECT team@rcpt.example',
      '/^Subject:.*redirect-bad/ REDIRECT nobody',
      '/^Subject:.*bcc-me/ BCC archive@rcpt.example',
      '/^X-Bcc-Dup:/ BCC Bob@RCPT.example',
      '/^X-Bcc-Team:/ BCC team@rcpt.example',
      '/^X-Bcc-Bad:/ BCC nobody',
      '/^Subject:.*info-me/ INFO looked at this',
      '/^Subject:.*filter-me/ FILTER smtp:[127.0.0.1]:10025',
      '/^Subject:.*strip-me/ STRIP gone',
      '/^X-Secret:/ IGNORE',
      '',
    ].join('\n'),
  );
  await writeFile(
    join(dir, 'body_checks'),
    ['/^SECTION TWO/ PREPEND ---- cut here ----', '/^redirect body/ REDIRECT first@rcpt.example', '/^bcc body/ BCC archive@rcpt.example', '/^replace body/ REPLACE other', '/^secret line/ IGNORE', ''].join('\n'),
  );
  await writeFile(
    join(dir, 'mime_header_checks'),
    [
      '/^Content-Disposition:.*filename=.*\\.bat/ REPLACE Content-Disposition: attachment; filename="removed.txt"',
      '/^Content-Type:.*text\\/calendar/ PREPEND X-Calendar: seen',
      '/^Content-Description:/ IGNORE',
      '',
    ].join('\n'),
  );
  await writeFile(join(dir, 'virtual'), 'team@rcpt.example bob@rcpt.example, carol@rcpt.example\n');
  await writeFile(join(dir, 'canonical'), 'first@rcpt.example primary@rcpt.example\n');
  const maps = { virtual_alias_maps: 'texthash:virtual', canonical_maps: 'texthash:canonical' };
  headers = makeCleanup({ header_checks: 'regexp:header_checks', ...maps }, dir);
  body = makeCleanup({ body_checks: 'regexp:body_checks', mime_header_checks: 'regexp:mime_header_checks', ...maps }, dir);
});

after(async () => {
  await headers.close();
  await body.close();
  await rm(dir, { recursive: true, force: true });
});

function assertHeaderLength(m: NewMessage): void {
  const text = Buffer.from(m.content).toString('utf8');
  assert.equal(m.headerLength, text.indexOf('\r\n\r\n') + 4);
}

function assertLogged(suffix: string): void {
  assert.ok(
    logLines.some((l) => l.endsWith(suffix)),
    `no line ends with ${JSON.stringify(suffix)}:\n${logLines.join('\n')}`,
  );
}

test('PREPEND inserts a header line before the matched header and logs it', async () => {
  logLines.length = 0;
  const m = queued(await headers.process(smtpInput('From: a@sender.example\r\nSubject: tag-me\r\nTo: b@rcpt.example\r\n\r\nbody\r\n')));
  assert.equal(afterReceived(m).toString('utf8'), 'From: a@sender.example\r\nX-Tag: tagged\r\nSubject: tag-me\r\nTo: b@rcpt.example\r\n\r\nbody\r\n');
  assertHeaderLength(m);
  assertLogged(`4ZxYqT1abcDEF: prepend: header Subject: tag-me${SUFFIX}: X-Tag: tagged`);
});

test('PREPEND goes before the first line of a folded header; IGNORE of another header still applies', async () => {
  const m = queued(await headers.process(smtpInput('X-Secret: s\r\nX-Folded: one\r\n\ttwo\r\nSubject: tag-me\r\n\r\nb\r\n')));
  assert.equal(afterReceived(m).toString('utf8'), 'X-Before-Folded: yes\r\nX-Folded: one\r\n\ttwo\r\nX-Tag: tagged\r\nSubject: tag-me\r\n\r\nb\r\n');
  assertHeaderLength(m);
});

test('PREPEND with text that is not a header, or no text, is a warning and changes nothing', async () => {
  logLines.length = 0;
  const input = 'Subject: bad-prepend\r\n\r\nb\r\n';
  assert.equal(afterReceived(queued(await headers.process(smtpInput(input)))).toString('utf8'), input);
  assertLogged('warning: bad PREPEND header text "not a header line" in header_checks map -- need "headername: headervalue"');
  const empty = 'Subject: empty-prepend\r\n\r\nb\r\n';
  assert.equal(afterReceived(queued(await headers.process(smtpInput(empty)))).toString('utf8'), empty);
  assertLogged('warning: PREPEND action without text in header_checks map');
  assert.ok(!logLines.some((l) => l.includes(': prepend: ')), logLines.join('\n'));
});

test('REPLACE swaps the whole (folded) header in place and keeps the order of the others', async () => {
  logLines.length = 0;
  const m = queued(await headers.process(smtpInput('From: a@sender.example\r\nSubject: please replace-me\r\n now\r\nTo: b@rcpt.example\r\n\r\nbody\r\n')));
  assert.equal(afterReceived(m).toString('utf8'), 'From: a@sender.example\r\nSubject: [replaced]\r\nTo: b@rcpt.example\r\n\r\nbody\r\n');
  assertHeaderLength(m);
  assertLogged(`4ZxYqT1abcDEF: replace: header Subject: please replace-me now${SUFFIX}: Subject: [replaced]`);
});

test('REPLACE with text that is not a header is a warning; a replaced Message-ID is the one logged', async () => {
  logLines.length = 0;
  const input = 'Subject: bad-replace\r\n\r\nb\r\n';
  assert.equal(afterReceived(queued(await headers.process(smtpInput(input)))).toString('utf8'), input);
  assertLogged('warning: bad REPLACE header text "no colon here" in header_checks map -- need "headername: headervalue"');
  logLines.length = 0;
  const r = await headers.process(smtpInput('Message-ID: <old@id.example>\r\nSubject: x\r\n\r\nb\r\n'));
  assert.equal(afterReceived(queued(r)).toString('utf8'), 'Message-ID: <new@id.example>\r\nSubject: x\r\n\r\nb\r\n');
  assert.equal((r as { messageId?: string }).messageId, '<new@id.example>');
  assertLogged('4ZxYqT1abcDEF: message-id=<new@id.example>');
});

test('REDIRECT replaces every recipient; the last one wins and goes through virtual alias expansion', async () => {
  logLines.length = 0;
  const input = 'Subject: redirect-first\r\nX-Route: redirect-team\r\n\r\nb\r\n';
  const m = queued(
    await headers.process(
      smtpInput(input, {
        recipients: [
          { address: 'bob@rcpt.example', notify: ['SUCCESS'], orcpt: 'rfc822;bob@rcpt.example' },
          { address: 'dave@rcpt.example' },
        ],
      }),
    ),
  );
  // Added recipients carry no DSN fields; the expansion records the redirect address as received.
  assert.deepEqual(m.recipients, [{ address: 'bob@rcpt.example', origRcpt: 'team@rcpt.example' }, { address: 'carol@rcpt.example', origRcpt: 'team@rcpt.example' }]);
  assert.equal(afterReceived(m).toString('utf8'), input);
  assertLogged(`4ZxYqT1abcDEF: redirect: header Subject: redirect-first${SUFFIX}: first@rcpt.example`);
  assertLogged(`4ZxYqT1abcDEF: redirect: header X-Route: redirect-team${SUFFIX}: team@rcpt.example`);
});

test('REDIRECT goes through canonical rewriting; a target without "@" is a warning and changes nothing', async () => {
  const m = queued(await headers.process(smtpInput('Subject: redirect-first\r\n\r\nb\r\n')));
  assert.deepEqual(m.recipients, [{ address: 'primary@rcpt.example', origRcpt: 'first@rcpt.example' }]);
  logLines.length = 0;
  const kept = queued(await headers.process(smtpInput('Subject: redirect-bad\r\n\r\nb\r\n')));
  assert.deepEqual(kept.recipients, [{ address: 'bob@rcpt.example' }]);
  assertLogged('warning: bad REDIRECT target "nobody" in header_checks map -- need "user@domain"');
  assert.ok(!logLines.some((l) => l.includes(': redirect: ')), logLines.join('\n'));
});

test('BCC adds a recipient with NOTIFY=NEVER after the given ones (as Postfix: a failed copy is not reported to the sender), and logs it', async () => {
  logLines.length = 0;
  const m = queued(await headers.process(smtpInput('Subject: bcc-me\r\n\r\nb\r\n', { recipients: [{ address: 'bob@rcpt.example', notify: ['NEVER'] }] })));
  assert.deepEqual(m.recipients, [{ address: 'bob@rcpt.example', notify: ['NEVER'] }, { address: 'archive@rcpt.example', notify: ['NEVER'] }]);
  assertLogged(`4ZxYqT1abcDEF: bcc: header Subject: bcc-me${SUFFIX}: archive@rcpt.example`);
});

test('BCC: a copy for a given recipient stays (its NOTIFY differs: the duplicate filter of Postfix keeps it), virtual aliases expand, a bad address is a warning', async () => {
  logLines.length = 0;
  const m = queued(await headers.process(smtpInput('X-Bcc-Dup: 1\r\nX-Bcc-Team: 2\r\nX-Bcc-Bad: 3\r\nSubject: bcc-me\r\n\r\nb\r\n')));
  // Postfix's duplicate filter keys on ORCPT, NOTIFY, the original and the final address:
  // the BCC copies differ from the given bob@ in NOTIFY, and bob@ through team@ in the original too.
  assert.deepEqual(m.recipients, [
    { address: 'bob@rcpt.example' },
    { address: 'Bob@RCPT.example', notify: ['NEVER'] },
    { address: 'bob@rcpt.example', notify: ['NEVER'], origRcpt: 'team@rcpt.example' },
    { address: 'carol@rcpt.example', notify: ['NEVER'], origRcpt: 'team@rcpt.example' },
    { address: 'archive@rcpt.example', notify: ['NEVER'] },
  ]);
  assertLogged('warning: bad BCC address "nobody" in header_checks map -- need "user@domain"');
});

test('REDIRECT covers BCC recipients too, as every recipient is redirected', async () => {
  const m = queued(await headers.process(smtpInput('Subject: bcc-me\r\nX-Route: redirect-team\r\n\r\nb\r\n')));
  assert.deepEqual(m.recipients, [{ address: 'bob@rcpt.example', origRcpt: 'team@rcpt.example' }, { address: 'carol@rcpt.example', origRcpt: 'team@rcpt.example' }]);
});

test('a REJECT after a REDIRECT still rejects', async () => {
  await writeFile(join(dir, 'reject_checks'), '/^Subject: no$/ REJECT go away\n');
  const c = makeCleanup({ header_checks: 'regexp:header_checks, regexp:reject_checks' }, dir);
  const r = await c.process(smtpInput('X-Route: redirect-team\r\nSubject: no\r\n\r\nb\r\n'));
  assert.deepEqual(r, { action: 'reject', reason: '5.7.1 go away' });
  await c.close();
});

test('INFO only logs; FILTER sets the message\'s content filter (over content_filter); STRIP stays logged as unsupported', async () => {
  logLines.length = 0;
  const input = 'Subject: info-me\r\n\r\nb\r\n';
  const m = queued(await headers.process(smtpInput(input)));
  assert.equal(afterReceived(m).toString('utf8'), input);
  assert.equal(m.hold, undefined);
  assert.equal(m.filter, undefined);
  assertLogged(`4ZxYqT1abcDEF: info: header Subject: info-me${SUFFIX}: looked at this`);
  const f = queued(await headers.process(smtpInput('Subject: filter-me\r\n\r\nb\r\n', { contentFilter: 'scan:[127.0.0.1]:10024' })));
  assert.equal(afterReceived(f).toString('utf8'), 'Subject: filter-me\r\n\r\nb\r\n');
  assert.equal(f.filter, 'smtp:[127.0.0.1]:10025');
  assertLogged(`4ZxYqT1abcDEF: filter: header Subject: filter-me${SUFFIX}: smtp:[127.0.0.1]:10025`);
  assert.equal(queued(await headers.process(smtpInput(input, { contentFilter: 'scan:[127.0.0.1]:10024' }))).filter, 'scan:[127.0.0.1]:10024');
  queued(await headers.process(smtpInput('Subject: strip-me\r\n\r\nb\r\n')));
  assertLogged('warning: 4ZxYqT1abcDEF: unsupported content check action: STRIP gone');
});

test('body_checks PREPEND inserts a line before the matched body line, through the pool', async () => {
  logLines.length = 0;
  const m = queued(await body.process(smtpInput('Subject: x\r\n\r\nintro\r\nSECTION TWO starts\r\nend\r\n')));
  assert.equal(afterReceived(m).toString('utf8'), 'Subject: x\r\n\r\nintro\r\n---- cut here ----\r\nSECTION TWO starts\r\nend\r\n');
  assertHeaderLength(m);
  assertLogged(`4ZxYqT1abcDEF: prepend: body SECTION TWO starts${SUFFIX}: ---- cut here ----`);
});

test('body_checks REDIRECT and BCC change the recipients; body REPLACE stays unsupported', async () => {
  const r = queued(await body.process(smtpInput('Subject: x\r\n\r\nredirect body\r\n')));
  assert.deepEqual(r.recipients, [{ address: 'primary@rcpt.example', origRcpt: 'first@rcpt.example' }]);
  const b = queued(await body.process(smtpInput('Subject: x\r\n\r\nbcc body\r\n')));
  assert.deepEqual(b.recipients, [{ address: 'bob@rcpt.example' }, { address: 'archive@rcpt.example', notify: ['NEVER'] }]);
  logLines.length = 0;
  const kept = 'Subject: x\r\n\r\nreplace body\r\n';
  assert.equal(afterReceived(queued(await body.process(smtpInput(kept)))).toString('utf8'), kept);
  assertLogged('warning: 4ZxYqT1abcDEF: unsupported content check action: REPLACE other');
});

test('mime_header_checks REPLACE and PREPEND edit the part headers and keep every other byte', async () => {
  logLines.length = 0;
  const head = 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b1"\r\n\r\n';
  const part1 = '--b1\r\nContent-Type: text/calendar\r\n\r\nBEGIN:VCALENDAR\r\n';
  const part2a = '--b1\r\nContent-Type: application/octet-stream\r\n';
  const part2b = '\r\nZWNobyBoaQ==\r\n--b1--\r\n';
  const input = head + part1 + part2a + 'Content-Disposition: attachment;\r\n filename="run.bat"\r\n' + part2b;
  const m = queued(await body.process(smtpInput(input)));
  const expected =
    head +
    '--b1\r\nX-Calendar: seen\r\nContent-Type: text/calendar\r\n\r\nBEGIN:VCALENDAR\r\n' +
    part2a +
    'Content-Disposition: attachment; filename="removed.txt"\r\n' +
    part2b;
  assert.equal(afterReceived(m).toString('utf8'), expected);
  assertHeaderLength(m);
  assertLogged(
    `4ZxYqT1abcDEF: replace: header Content-Disposition: attachment; filename="run.bat"${SUFFIX}: Content-Disposition: attachment; filename="removed.txt"`,
  );
  assertLogged(`4ZxYqT1abcDEF: prepend: header Content-Type: text/calendar${SUFFIX}: X-Calendar: seen`);
});

test('IGNORE deletes a body line and a MIME part header (with its folded lines), as Postfix does, and logs nothing', async () => {
  logLines.length = 0;
  const head = 'MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="b2"\r\n\r\n';
  const input =
    head +
    '--b2\r\nContent-Type: text/plain\r\nContent-Description: internal\r\n notes\r\n\r\n' +
    'keep me\r\nsecret line one\r\nkeep me too\r\nsecret line two\r\n--b2--\r\n';
  const m = queued(await body.process(smtpInput(input)));
  assert.equal(
    afterReceived(m).toString('utf8'),
    head + '--b2\r\nContent-Type: text/plain\r\n\r\nkeep me\r\nkeep me too\r\n--b2--\r\n',
  );
  assertHeaderLength(m);
  assert.ok(!logLines.some((l) => /unsupported|ignore:/i.test(l)), logLines.join('\n'));
});

test('smtpd\'s access actions: HOLD, FILTER, REDIRECT, BCC and PREPEND shape the queued message; DISCARD drops it', async () => {
  const input = 'Subject: plain\r\n\r\nb\r\n';
  const m = queued(
    await headers.process(
      smtpInput(input, { actions: { hold: true, filter: 'scan:[127.0.0.1]:10025', bcc: ['archive@rcpt.example'], prepend: ['X-Policy: seen', 'broken line'] } }),
    ),
  );
  assert.equal(m.hold, true);
  assert.equal(m.filter, 'scan:[127.0.0.1]:10025');
  assert.deepEqual(m.recipients, [{ address: 'bob@rcpt.example' }, { address: 'archive@rcpt.example', notify: ['NEVER'] }]);
  const text = Buffer.from(m.content).toString('utf8');
  assert.ok(text.startsWith('X-Policy: seen\r\nReceived: '), 'PREPEND goes above the Received: header');
  assert.ok(!text.includes('broken line'));
  assertHeaderLength(m);
  const r = queued(await headers.process(smtpInput(input, { actions: { redirect: 'boss@rcpt.example', bcc: ['archive@rcpt.example'] } })));
  assert.deepEqual(r.recipients, [{ address: 'boss@rcpt.example' }]);
  assert.deepEqual(await headers.process(smtpInput(input, { actions: { discard: 'not wanted' } })), { action: 'discard', reason: 'not wanted' });
});

test('receive_override_options: no_header_body_checks skips header_checks and body_checks; no_address_mappings keeps the addresses as received', async () => {
  const tagged = 'Subject: tag-me\r\n\r\nSECTION TWO\r\n';
  const plain = queued(await body.process(smtpInput(tagged, { receiveOverride: { noHeaderBodyChecks: true } })));
  assert.equal(afterReceived(plain).toString('utf8'), tagged);
  assert.equal(afterReceived(queued(await headers.process(smtpInput(tagged, { receiveOverride: { noHeaderBodyChecks: true } })))).toString('utf8'), tagged);
  assert.notEqual(afterReceived(queued(await headers.process(smtpInput(tagged)))).toString('utf8'), tagged, 'without the option the checks run');
  // virtual_alias_maps expands team@ (see the fixture) unless the mappings are off.
  const expanded = queued(await headers.process(smtpInput('Subject: x\r\n\r\nb\r\n', { recipients: [{ address: 'team@rcpt.example' }] })));
  assert.deepEqual(expanded.recipients.map((x) => x.address), ['bob@rcpt.example', 'carol@rcpt.example']);
  const kept = queued(
    await headers.process(smtpInput('Subject: x\r\n\r\nb\r\n', { recipients: [{ address: 'team@rcpt.example' }], receiveOverride: { noAddressMappings: true } })),
  );
  assert.deepEqual(kept.recipients.map((x) => x.address), ['team@rcpt.example']);
});
