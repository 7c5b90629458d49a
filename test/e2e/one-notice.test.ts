/**
 * Failure notices per pass, end to end, as Postfix's bounce log flush: the
 * recipients that failed in a message's pass through the queue are
 * returned in one RFC 3464 report at the end of that pass, and a recipient
 * that fails in a later pass gets a report of its own; no recipient is
 * listed twice, a crash included.
 * Destination a.test refuses at once; b.test (on another loopback address,
 * so its Remote-MTA differs) defers a few times and then refuses or accepts.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startSmtpSink, type SmtpSink, noticesTo as noticesAt } from '../helpers/smtp-sink.js';
import { startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { sendMail, waitFor } from '../helpers/send-mail.js';

const DEFERRALS = 2;

let sinkA: SmtpSink;
let sinkB: SmtpSink;
let daemon: RunningDaemon;
/** RCPT answers sinkB gave each recipient so far. */
const triesB = new Map<string, number>();
/** sinkB defers crash@b.test while this is true, then refuses it. */
let holdCrash = true;

function noticesTo(sender: string): string[] {
  return noticesAt(sinkA, sender, 'utf8');
}

before(async () => {
  sinkA = await startSmtpSink({
    rcpt: (to) => {
      if (to.startsWith('gone') && to.endsWith('@a.test')) return { code: 550, message: `5.1.1 <${to}>: Recipient address rejected: User unknown` };
      return null;
    },
  });
  sinkB = await startSmtpSink({
    host: '127.0.0.2',
    rcpt: (to) => {
      if (to.startsWith('crash@')) {
        return holdCrash ? { code: 451, message: '4.3.2 not yet' } : { code: 550, message: `5.2.1 <${to}>: Mailbox disabled` };
      }
      const n = (triesB.get(to) ?? 0) + 1;
      triesB.set(to, n);
      if (n <= DEFERRALS) return { code: 451, message: '4.3.2 try again later' };
      return to.startsWith('slowgone@') ? { code: 554, message: `5.7.1 <${to}>: Relay access denied` } : null;
    },
  });
  daemon = await startDaemon({
    params: {
      // The notices go to the senders' domain through the relayhost, which is sinkA.
      relayhost: `[127.0.0.1]:${sinkA.port}`,
      transport_maps: `inline:{ a.test=smtp:[127.0.0.1]:${sinkA.port}, b.test=smtp:[127.0.0.2]:${sinkB.port} }`,
    },
  });
});

after(async () => {
  await daemon?.stop();
  await sinkA?.close();
  await sinkB?.close();
});

/** Sends a short message from `from`; returns its queue id once the server has said 250. */
async function send(from: string, to: string[], subject: string): Promise<string> {
  const r = await sendMail(daemon.port, { from, to, raw: `From: ${from}\r\nSubject: ${subject}\r\n\r\nhello\r\n` });
  assert.match(r.response, /^250 /);
  assert.ok(r.queueId, 'the 250 names a queue id');
  return r.queueId;
}

/** The per-recipient block of a report that names `address`. */
function recipientBlock(dsn: string, address: string): string {
  const blocks = dsn.split(/\r?\n\r?\n/);
  const block = blocks.find((b) => new RegExp(`Final-Recipient: rfc822; ?${address.replace(/\./g, '\\.')}`, 'i').test(b));
  assert.ok(block, `the report has a block for ${address}`);
  return block;
}

function removed(queueId: string): Promise<void> {
  return daemon.waitRemoved(queueId);
}

/** The notices made for `queueId`, in order: their queue ids, from the log. */
function noticesMade(queueId: string): string[] {
  return daemon.log().split('\n')
    .filter((l) => l.includes(`${queueId}: sender non-delivery notification:`))
    .map((l) => /notification: (\S+)/.exec(l)![1]);
}

/** The line number of the first log line matching `re`; -1 when none. */
function logLine(re: RegExp): number {
  return daemon.log().split('\n').findIndex((l) => re.test(l));
}

test('recipients failing at two destinations in different passes: a notice at the end of each pass, none listed twice', async () => {
  const queueId = await send('owner1@client.test', ['gone@a.test', 'slowgone@b.test'], 'two destinations');
  await removed(queueId);
  const made = noticesMade(queueId);
  assert.equal(made.length, 2, 'one notice for the first pass, one for the pass where b.test refused');
  for (const id of made) await removed(id);
  assert.equal(triesB.get('slowgone@b.test'), DEFERRALS + 1, 'b.test deferred, then refused');
  assert.ok(
    logLine(new RegExp(`${queueId}: sender non-delivery notification: ${made[0]}`)) <
      logLine(new RegExp(`${queueId}: to=<slowgone@b\\.test>, relay=.*status=bounced`)),
    'the first notice was made before b.test refused',
  );
  const notices = noticesTo('owner1@client.test');
  assert.equal(notices.length, 2, 'two notices reach the sender');
  const first = notices.find((n) => /Final-Recipient: rfc822; ?gone@a\.test/i.test(n));
  const second = notices.find((n) => /Final-Recipient: rfc822; ?slowgone@b\.test/i.test(n));
  assert.ok(first && second && first !== second, 'each failed recipient is in one notice of its own');
  assert.ok(!/slowgone@b\.test/i.test(first.split(/Content-Type: message\//i)[0]), 'the first notice does not list the deferred recipient');
  for (const dsn of notices) assert.match(dsn, /Content-Type: multipart\/report; report-type=delivery-status/i);
  const a = recipientBlock(first, 'gone@a.test');
  assert.match(a, /Action: failed/);
  assert.match(a, /Status: 5\.1\.1/);
  assert.match(a, /Remote-MTA: dns; ?127\.0\.0\.1\r?\n/);
  assert.match(a, /Diagnostic-Code: smtp; ?550 5\.1\.1 <gone@a\.test>: Recipient address rejected/);
  const b = recipientBlock(second, 'slowgone@b.test');
  assert.match(b, /Action: failed/);
  assert.match(b, /Status: 5\.7\.1/);
  assert.match(b, /Remote-MTA: dns; ?127\.0\.0\.2\r?\n/);
  assert.match(b, /Diagnostic-Code: smtp; ?554 5\.7\.1 <slowgone@b\.test>: Relay access denied/);
  assert.ok(!/Final-Recipient: rfc822; ?gone@a\.test/i.test(second), 'the second notice does not repeat gone@a.test');
  assert.ok(second.includes('Subject: two destinations'), 'the original headers are returned');
});

test('a recipient refused while the other is deferred is returned at the end of that pass, not after the delivery', async () => {
  const queueId = await send('owner3@client.test', ['gone@a.test', 'slowok@b.test'], 'one of two');
  await removed(queueId);
  assert.ok(sinkB.messages.some((m) => !m.refused && m.rcptTo.includes('slowok@b.test')), 'b.test took its copy');
  const made = noticesMade(queueId);
  assert.equal(made.length, 1, 'one notice made for the message');
  assert.ok(
    logLine(new RegExp(`${queueId}: sender non-delivery notification:`)) < logLine(new RegExp(`${queueId}: to=<slowok@b\\.test>, relay=.*status=sent`)),
    'the notice was made before b.test took its copy',
  );
  await removed(made[0]);
  const notices = noticesTo('owner3@client.test');
  assert.equal(notices.length, 1);
  recipientBlock(notices[0], 'gone@a.test');
  assert.ok(!/Final-Recipient: rfc822; ?slowok@b\.test/i.test(notices[0]), 'the delivered recipient is not listed');
});

test('a recipient listed before a crash is not listed again after the restart', async () => {
  const queueId = await send('owner4@client.test', ['gone@a.test', 'crash@b.test'], 'across a crash');
  await waitFor(() => noticesMade(queueId).length === 1, 20_000, 'the first pass notice for gone@a.test');
  await removed(noticesMade(queueId)[0]);
  await daemon.kill('SIGKILL');
  holdCrash = false;
  await daemon.restart();
  await removed(queueId);
  const made = noticesMade(queueId);
  assert.equal(made.length, 2, 'a second notice, for crash@b.test only');
  await removed(made[1]);
  const notices = noticesTo('owner4@client.test');
  assert.equal(notices.length, 2);
  const late = notices.find((n) => /Final-Recipient: rfc822; ?crash@b\.test/i.test(n));
  assert.ok(late, 'crash@b.test is returned');
  assert.ok(!/Final-Recipient: rfc822; ?gone@a\.test/i.test(late), 'gone@a.test is not listed again after the crash');
  const b = recipientBlock(late, 'crash@b.test');
  assert.match(b, /Status: 5\.2\.1/);
  assert.match(b, /Remote-MTA: dns; ?127\.0\.0\.2\r?\n/);
});

test('one destination refusing two recipients gives one notice listing both', async () => {
  const queueId = await send('owner2@client.test', ['gone1@a.test', 'gone2@a.test'], 'both refused');
  await removed(queueId);
  const made = noticesMade(queueId);
  assert.equal(made.length, 1, 'one notice made for the message');
  await removed(made[0]);
  const notices = noticesTo('owner2@client.test');
  assert.equal(notices.length, 1);
  for (const address of ['gone1@a.test', 'gone2@a.test']) {
    const block = recipientBlock(notices[0], address);
    assert.match(block, /Status: 5\.1\.1/);
    assert.match(block, new RegExp(`Diagnostic-Code: smtp; ?550 5\\.1\\.1 <${address.replace(/\./g, '\\.')}>`));
  }
});
