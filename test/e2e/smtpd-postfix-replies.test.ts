/**
 * The SMTP dialogue a switching admin compares with Postfix 3.7's, over a
 * real socket against the real daemon (smtpd, trivial-rewrite, qmgr, the
 * smtp client): every expected reply below is what Postfix 3.7.11 answered
 * to the same command on the same main.cf settings.
 *
 *  - recipients refused at RCPT (no backscatter): an error: or retry: route
 *    (transport_maps), relay_recipient_maps, virtual_mailbox_maps, an
 *    unknown user of mydestination; VRFY gives the same answers;
 *  - envelope syntax: a bare address, a bare local part, unknown
 *    parameters, Postfix's order of checks;
 *  - ETRN: 459 outside fast_flush_domains, and a flush of the site's
 *    deferred mail within it; 500 for unknown commands.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { sendMail, waitFor } from '../helpers/send-mail.js';
import { ehloSession, RawClient } from '../actors/smtpd/smtpd-test-kit.js';

let daemon: RunningDaemon;
let sink: SmtpSink;
let sinkAccepts = false;

before(async () => {
  sink = await startSmtpSink({ rcpt: () => (sinkAccepts ? null : { code: 450, message: '4.2.0 try again later' }) });
  daemon = await startDaemon({
    params: {
      compatibility_level: '3.6',
      mydestination: '$myhostname, localhost',
      alias_maps: '',
      transport_maps: `inline:{{err.test=error:no such place},{rt.test=retry:try later},{slow.test=smtp:[127.0.0.1]:${sink.port}}}`,
      relay_domains: 'err.test rt.test relay.test slow.test',
      relay_recipient_maps: 'inline:{known@relay.test=x, x@slow.test=x}',
      virtual_mailbox_domains: 'vm.test',
      virtual_mailbox_maps: 'inline:{vu@vm.test=x}',
      recipient_delimiter: '+',
      // Deferred mail waits for ETRN, not for a queue run.
      minimal_backoff_time: '1h',
      maximal_backoff_time: '1h',
      queue_run_delay: '1h',
    },
  });
});

after(async () => {
  await daemon?.stop();
  await sink?.close();
});

/** Sends each command and collects the replies (the greeting first). */
async function dialogue(commands: string[]): Promise<string[]> {
  const c = await RawClient.open(daemon.port);
  const replies = [(await c.reply())!];
  for (const command of commands) replies.push((await c.cmd(command))!);
  c.close();
  return replies;
}

test('recipients that cannot be delivered are refused at RCPT with Postfix\'s replies, and VRFY answers the same', async () => {
  const c = await ehloSession(daemon.port);
  assert.equal(await c.cmd('MAIL FROM:<jdoe>'), '250 2.1.0 Ok');
  assert.equal(await c.cmd('RCPT TO:<nobody>'), '250 2.1.5 Ok', 'a bare local part of a passwd user');
  assert.equal(await c.cmd('RCPT TO:<u@err.test>'), '550 5.1.1 <u@err.test>: Recipient address rejected: no such place');
  assert.equal(await c.cmd('RCPT TO:<u@rt.test>'), '450 4.1.1 <u@rt.test>: Recipient address rejected: try later');
  assert.equal(await c.cmd('RCPT TO:<x@relay.test>'), '550 5.1.1 <x@relay.test>: Recipient address rejected: User unknown in relay recipient table');
  assert.equal(await c.cmd('RCPT TO:<known@relay.test>'), '250 2.1.5 Ok');
  assert.equal(await c.cmd('RCPT TO:<x@vm.test>'), '550 5.1.1 <x@vm.test>: Recipient address rejected: User unknown in virtual mailbox table');
  assert.equal(await c.cmd('RCPT TO:<vu+e@vm.test>'), '250 2.1.5 Ok');
  assert.equal(await c.cmd('RCPT TO:<nosuchuser>'), '550 5.1.1 <nosuchuser>: Recipient address rejected: User unknown in local recipient table');
  assert.equal(await c.cmd('RCPT TO:nosuchuser@localhost'), '550 5.1.1 <nosuchuser@localhost>: Recipient address rejected: User unknown in local recipient table');
  assert.equal(await c.cmd('RCPT TO:<@a.test:x@vm.test>'), '550 5.1.1 <x@vm.test>: Recipient address rejected: User unknown in virtual mailbox table');
  assert.equal(await c.cmd('RCPT TO:<postmaster>'), '250 2.1.5 Ok');
  assert.equal(await c.cmd('VRFY u@err.test'), '550 5.1.1 <u@err.test>: Recipient address rejected: no such place');
  assert.equal(await c.cmd('QUIT'), '221 2.0.0 Bye');
  c.close();
  assert.deepEqual(await dialogue(['EHLO x', 'VRFY nobody', 'VRFY', 'VRFY root', 'VRFY <root@localhost>', 'VRFY Root <root@localhost>', 'VRFY nobody SMTPUTF8', 'VRFY a b c', 'VRFY <>', 'VRFY nosuchuser', 'VRFY u@rt.test', 'VRFY x@relay.test', 'VRFY known@relay.test']).then((r) => r.slice(2)), [
    '252 2.0.0 nobody',
    '501 5.5.4 Syntax: VRFY address [SMTPUTF8]',
    '252 2.0.0 root',
    '252 2.0.0 <root@localhost>',
    '252 2.0.0 Root <root@localhost>',
    '252 2.0.0 nobody',
    '501 5.1.3 Bad recipient address syntax',
    '501 5.1.3 Bad recipient address syntax',
    '550 5.1.1 <nosuchuser>: Recipient address rejected: User unknown in local recipient table',
    '450 4.1.1 <u@rt.test>: Recipient address rejected: try later',
    '550 5.1.1 <x@relay.test>: Recipient address rejected: User unknown in relay recipient table',
    '252 2.0.0 known@relay.test',
  ]);
  await waitFor(() => /NOQUEUE: reject: VRFY from localhost\[127\.0\.0\.1\]: 550 5\.1\.1 <nosuchuser>: Recipient address rejected: User unknown in local recipient table; to=<nosuchuser> proto=ESMTP helo=<x>/.test(daemon.log()), 10_000, 'the VRFY reject line');
  const log = daemon.log();
  assert.match(log, /reject: RCPT from localhost\[127\.0\.0\.1\]: 550 5\.1\.1 <u@err\.test>: Recipient address rejected: no such place; from=<jdoe> to=<u@err\.test> proto=ESMTP helo=<client\.test\.example>/);
  assert.match(log, /warning: Illegal address syntax from localhost\[127\.0\.0\.1\] in VRFY command: a b c/);
  assert.ok(!/status=bounced/.test(log), 'nothing was accepted to bounce later');
});

test('bare addresses and local parts are taken, qualified with @$myorigin in the queue; unknown parameters get 555 with the option as written', async () => {
  assert.deepEqual((await dialogue([
    'EHLO x', 'MAIL FROM:a@b.test', 'MAIL FROM:<jdoe> FOO=bar', 'RSET', 'MAIL FROM:<jdoe> FOO=bar', 'MAIL FROM:<a@b.test> BODY=QUANTUM',
    'MAIL FROM:<a@b.test> SIZE=abc', 'MAIL FROM:<a@b.test> RET=X', 'MAIL', 'RCPT TO:<a@b.test>', 'MAIL FROM:<jdoe>', 'RCPT TO:<x@y.test> BAR=1',
    'RCPT TO:<root@localhost> NOTIFY=NEVER,SUCCESS', 'RCPT TO:<root@localhost> ORCPT=bad', 'RCPT TO:<root@localhost> NOTIFY', 'RCPT TO:a b',
    'RCPT TO:', 'RCPT TO:<root@localhost> NOTIFY=SUCCESS NOTIFY=FAILURE', 'BOGUS', 'HELO', 'EHLO',
  ])).slice(2), [
    '250 2.1.0 Ok',
    '503 5.5.1 Error: nested MAIL command',
    '250 2.0.0 Ok',
    '555 5.5.4 Unsupported option: FOO=bar',
    '555 5.5.4 Unsupported option: BODY=QUANTUM',
    '501 5.5.4 Bad message size syntax',
    '501 5.5.4 Bad RET parameter syntax',
    '501 5.5.4 Syntax: MAIL FROM:<address>',
    '503 5.5.1 Error: need MAIL command',
    '250 2.1.0 Ok',
    '555 5.5.4 Unsupported option: BAR=1',
    '501 5.5.4 Error: Bad NOTIFY parameter syntax',
    '501 5.5.4 Error: Bad ORCPT parameter syntax',
    '555 5.5.4 Unsupported option: NOTIFY',
    '555 5.5.4 Unsupported option: b',
    '501 5.5.4 Syntax: RCPT TO:<address>',
    '501 5.5.4 Error: Bad NOTIFY parameter syntax',
    '500 5.5.2 Error: command not recognized',
    '501 Syntax: HELO hostname',
    '501 Syntax: EHLO hostname',
  ]);
  const sent = await sendMail(daemon.port, { from: 'jdoe', to: ['known@relay.test'], raw: 'Subject: bare\r\n\r\nbody\r\n' }).catch((err: { response?: string }) => ({ response: String(err.response), queueId: undefined }));
  assert.match(sent.response, /^250 2\.0\.0 Ok: queued as/);
  // qmgr's line names the sender as queued: cleanup appended @$myorigin (append_at_myorigin).
  await waitFor(() => daemon.log().includes(`${sent.queueId}: from=<jdoe@mx.postrider.test>`), 10_000, 'the qualified sender in the log');
});

test('ETRN: 459 for a site outside fast_flush_domains; within it, the site\'s deferred mail goes out at once', async () => {
  const sent = await sendMail(daemon.port, { from: 'a@b.test', to: ['x@slow.test'], raw: 'Subject: waits\r\n\r\nfor ETRN\r\n' });
  await waitFor(() => daemon.log().includes(`${sent.queueId}: to=<x@slow.test>`) && /status=deferred/.test(daemon.log()), 20_000, 'the first attempt deferred');
  sinkAccepts = true;
  assert.deepEqual((await dialogue(['ETRN', 'EHLO x', 'ETRN', 'ETRN foo.test', 'ETRN @foo', 'ETRN #foo', 'ETRN foo bar', 'ETRN [1.2.3.4]', 'ETRN a..b', 'MAIL FROM:<a@b.test>', 'ETRN slow.test', 'RSET', 'ETRN slow.test'])).filter((r) => !r.startsWith('250-') && !r.startsWith('220')), [
    '500 Syntax: ETRN domain',
    '500 Syntax: ETRN domain',
    '459 <foo.test>: service unavailable',
    '459 <foo>: service unavailable',
    '459 <foo>: service unavailable',
    '500 Syntax: ETRN domain',
    '459 <[1.2.3.4]>: service unavailable',
    '501 Error: invalid parameter syntax',
    '250 2.1.0 Ok',
    '503 Error: MAIL transaction in progress',
    '250 2.0.0 Ok',
    '250 Queuing started',
  ]);
  await waitFor(() => sink.messages.some((m) => m.rcptTo.includes('x@slow.test') && !m.refused), 20_000, 'the flushed message at the sink');
  assert.match(daemon.log(), /warning: reject: ETRN foo\.test\.\.\. from localhost\[127\.0\.0\.1\]/);
});
