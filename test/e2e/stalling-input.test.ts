/**
 * Input that used to stall a thread, through the real daemon on real
 * sockets: Postfix's classic backtracking traps in header_checks and in a
 * check_recipient_access regexp: table, backreference rules that run out of
 * their budget, body_checks stuck in a match, 40,000 levels of MIME
 * nesting, and a burst of actor crashes. Each hostile client gets a normal
 * reply (or Postfix's 4xx/5xx), 30 bystander sessions on the same smtpd
 * thread finish their mail, and the daemon keeps serving.
 */
import { test, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { controlRequest } from '../../src/cli/control-client.js';
import { freePort, startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { nestedMimeMessage } from '../helpers/nested-mime.js';
import { waitFor } from '../helpers/send-mail.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { ehloSession, type RawClient } from '../actors/smtpd/smtpd-test-kit.js';

const HOSTILE = 'a'.repeat(40) + '!';

let tables: string;
let sink: SmtpSink;
let daemon: RunningDaemon;
/** A second listener with one smtpd thread: every session on it shares that thread. */
let onePort: number;

before(async () => {
  tables = mkdtempSync(join(tmpdir(), 'postrider-stall-'));
  const t = (name: string, text: string): string => {
    writeFileSync(join(tables, name), text);
    return join(tables, name);
  };
  const headerChecks = t('header_checks', '/^Subject: (a+)+$/ REJECT nested quantifier\n');
  const headerBackref = t('header_backref', '/^Subject: (b+)+\\1$/ REJECT header backreference\n');
  const bodyChecks = t('body_checks', '/^(c+)+\\1$/ REJECT stuck\n/^BUY NOW/ REJECT body spam\n');
  const rcptAccess = t('rcpt_access', '/^(a+)+$/ REJECT nested quantifier\n/^(a+)+@remote\\.test$/ REJECT all a\n');
  const rcptBackref = t('rcpt_backref', '/^(d+)+\\1@/ REJECT rcpt backreference\n');
  sink = await startSmtpSink();
  onePort = await freePort();
  daemon = await startDaemon({
    params: {
      relayhost: `[127.0.0.1]:${sink.port}`,
      header_checks: `regexp:${headerChecks}, pcre:${headerBackref}`,
      body_checks: `pcre:${bodyChecks}`,
      body_checks_time_limit: '3s',
      smtpd_recipient_restrictions: `check_recipient_access regexp:${rcptAccess}, check_recipient_access pcre:${rcptBackref}, permit_mynetworks, reject_unauth_destination`,
      service_throttle_time: '4s',
      // Room for a slow machine: the twelve crashes below must fall in one window.
      supervisor_restart_window: '120s',
      message_size_limit: '20000000',
    },
    masterExtra: [`127.0.0.1:${onePort} inet n - n - 1 smtpd`],
  });
});

after(async () => {
  await daemon?.stop();
  await sink?.close();
  rmSync(tables, { recursive: true, force: true });
});

/** MAIL and RCPT in an open session; returns the RCPT reply. */
async function envelope(c: RawClient, to = 'rcpt@remote.test'): Promise<string | undefined> {
  assert.equal(await c.cmd('MAIL FROM:<sender@client.test>'), '250 2.1.0 Ok');
  return c.cmd(`RCPT TO:<${to}>`);
}

/** DATA with the given message; returns the reply at its end. */
async function data(c: RawClient, message: string | Buffer, timeoutMs = 60_000): Promise<string | undefined> {
  assert.equal(await c.cmd('DATA'), '354 End data with <CR><LF>.<CR><LF>');
  c.send(message);
  c.send('.\r\n');
  return c.reply(timeoutMs);
}

const plain = (subject: string, body = 'hello'): string => `From: sender@client.test\r\nTo: rcpt@remote.test\r\nSubject: ${subject}\r\n\r\n${body}\r\n`;

test('the two reproductions get normal replies at once and 30 bystanders on the same smtpd thread all finish their mail', async () => {
  const bystanders: RawClient[] = [];
  const t0 = Date.now();
  try {
    for (let i = 0; i < 30; i++) {
      const c = await ehloSession(onePort);
      assert.equal(await envelope(c), '250 2.1.5 Ok');
      bystanders.push(c);
    }
    const hostile = await ehloSession(onePort);
    try {
      // check_recipient_access regexp: /^(a+)+$/ and header_checks /^Subject: (a+)+$/: no match, found in linear time.
      assert.equal(await envelope(hostile, `${HOSTILE}@remote.test`), '250 2.1.5 Ok');
      assert.match((await data(hostile, plain(HOSTILE)))!, /^250 2\.0\.0 Ok: queued as /);
      assert.equal(await hostile.cmd('RSET'), '250 2.0.0 Ok');
      assert.equal(await envelope(hostile, 'aaaa@remote.test'), '554 5.7.1 <aaaa@remote.test>: Recipient address rejected: all a', 'the rules still match what they should');
    } finally {
      hostile.close();
    }
    const replies = await Promise.all(bystanders.map((c, i) => data(c, plain(`bystander ${i}`))));
    console.log(`# the hostile session and 30 bystanders done ${Date.now() - t0} ms after the first connection`);
    for (const r of replies) assert.match(r ?? 'closed', /^250 2\.0\.0 Ok: queued as /);
  } finally {
    for (const c of bystanders) c.close();
  }
  assert.doesNotMatch(daemon.log(), /not responding|restart intensity/);
});

test('backreference rules that run out of their budget: 451 4.3.5 at RCPT, 451 4.3.0 at the end of DATA, and the session goes on', async () => {
  const c = await ehloSession(onePort);
  try {
    const to = `${'d'.repeat(40)}!@remote.test`;
    assert.equal(await envelope(c, to), `451 4.3.5 <${to}>: Recipient address rejected: Server configuration error`);
    assert.equal(await c.cmd('RCPT TO:<rcpt@remote.test>'), '250 2.1.5 Ok');
    assert.equal(await data(c, plain(`${'b'.repeat(40)}!`)), '451 4.3.0 Error: queue file write error');
    assert.equal(await envelope(c), '250 2.1.5 Ok');
    assert.match((await data(c, plain('fine')))!, /^250 2\.0\.0 Ok: queued as /);
  } finally {
    c.close();
  }
  const log = daemon.log();
  assert.match(log, /warning: pcre map \S+rcpt_backref, line 1: match time limit of \d+ ms exceeded/);
  assert.match(log, /warning: pcre map \S+header_backref, line 1: match time limit of \d+ ms exceeded/);
  assert.match(log, /warning: [0-9A-Za-z]+: header_checks map lookup problem -- message not accepted, try again later/);
});

test('two messages stuck in body_checks get 451 4.3.0 at body_checks_time_limit; later messages get their replies', async () => {
  const stuck = await Promise.all([ehloSession(daemon.port), ehloSession(daemon.port)]);
  const later = await Promise.all([ehloSession(daemon.port), ehloSession(daemon.port)]);
  try {
    for (const c of [...stuck, ...later]) assert.equal(await envelope(c), '250 2.1.5 Ok');
    const hostile = stuck.map((c) => data(c, plain('stuck', `${'c'.repeat(40)}!`)));
    // Sent while both check threads are busy with the hostile bodies.
    await new Promise((r) => setTimeout(r, 500));
    const fine = data(later[0], plain('fine after'));
    const spam = data(later[1], plain('spam after', 'BUY NOW'));
    assert.deepEqual(await Promise.all(hostile), ['451 4.3.0 Error: queue file write error', '451 4.3.0 Error: queue file write error']);
    assert.match((await fine)!, /^250 2\.0\.0 Ok: queued as /);
    assert.equal(await spam, '550 5.7.1 body spam');
    // The sessions of the refused messages go on.
    assert.equal(await envelope(stuck[0]), '250 2.1.5 Ok');
    assert.match((await data(stuck[0], plain('and then')))!, /^250 2\.0\.0 Ok: queued as /);
  } finally {
    for (const c of [...stuck, ...later]) c.close();
  }
  assert.match(daemon.log(), /warning: [0-9A-Za-z]+: body_checks_time_limit \(3 s\) exceeded -- message not accepted, try again later/);
});

test('40,000 levels of MIME nesting are refused with Postfix\'s reply, quickly, and the session goes on', async () => {
  const c = await ehloSession(daemon.port);
  try {
    assert.equal(await envelope(c), '250 2.1.5 Ok');
    const started = Date.now();
    assert.equal(await data(c, nestedMimeMessage(40_000)), '550 5.6.0 MIME nesting exceeds safety limit');
    console.log(`# 40,000-level message (3 MB) refused ${Date.now() - started} ms after DATA`);
    assert.equal(await envelope(c), '250 2.1.5 Ok');
    assert.match((await data(c, plain('after the deep one')))!, /^250 2\.0\.0 Ok: queued as /);
  } finally {
    c.close();
  }
  assert.match(daemon.log(), /[0-9A-Za-z]+: reject: mime-error MIME nesting exceeds safety limit: Content-Type: multipart\/mixed; boundary="b102" from localhost\[127\.0\.0\.1\]/);
});

test('12 forced crashes of an smtpd thread in a row: the daemon throttles, logs, and keeps serving', async () => {
  const smtpdOf = async (): Promise<{ instance: number; state: string; threadId: number }> => {
    const st = (await controlRequest(daemon.queueDir, 'status')) as { actors: Array<{ role: string; instance: number; service: string; state: string; threadId: number }> };
    return st.actors.find((a) => a.role === 'smtpd' && a.service === `127.0.0.1:${daemon.port}`)!;
  };
  const victim = (await smtpdOf()).instance;
  const started = Date.now();
  for (let i = 0; i < 12; i++) {
    const before = (await smtpdOf()).threadId;
    await controlRequest(daemon.queueDir, 'fault', ['smtpd', String(victim), 'exit']);
    await waitFor(async () => {
      const a = await smtpdOf();
      return a.state === 'running' && a.threadId !== before;
    }, 30_000, `smtpd[${victim}] back after crash ${i + 1}`);
    // Meanwhile the other listener serves.
    if (i === 10) {
      const c = await ehloSession(onePort);
      assert.equal(await envelope(c), '250 2.1.5 Ok');
      assert.match((await data(c, plain(`during crash ${i + 1}`)))!, /^250 2\.0\.0 Ok: queued as /);
      c.close();
    }
  }
  console.log(`# 12 crashes and restarts in ${Date.now() - started} ms`);
  assert.equal(daemon.child.exitCode, null, 'the daemon is running');
  const c = await ehloSession(daemon.port);
  try {
    assert.equal(await envelope(c), '250 2.1.5 Ok');
    assert.match((await data(c, plain('after the crashes')))!, /^250 2\.0\.0 Ok: queued as /);
  } finally {
    c.close();
  }
  const log = daemon.log();
  assert.match(log, new RegExp(`warning: restart intensity exceeded: 11 restarts of smtpd\\[${victim}\\] in 120 s -- throttling; restarting smtpd\\[${victim}\\] in 1 s`));
  assert.match(log, new RegExp(`warning: restart intensity exceeded: 12 restarts of smtpd\\[${victim}\\] in 120 s -- throttling; restarting smtpd\\[${victim}\\] in 2 s`));
  assert.doesNotMatch(log, /fatal:/);
});
