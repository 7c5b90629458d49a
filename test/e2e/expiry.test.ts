/**
 * Expiry end to end: mail that is still deferred after
 * maximal_queue_lifetime is returned to the sender with a DSN, and leaves
 * the queue; a recipient refused in the first pass was returned at the end
 * of that pass and is not listed again.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { sendMail, waitFor } from '../helpers/send-mail.js';

let sink: SmtpSink;
let daemon: RunningDaemon;

before(async () => {
  sink = await startSmtpSink({
    rcpt: (to) => {
      if (to.startsWith('never')) return { code: 451, message: '4.2.1 mailbox busy' };
      if (to.startsWith('gone@')) return { code: 550, message: `5.1.1 <${to}>: User unknown` };
      return null;
    },
  });
  daemon = await startDaemon({ params: { relayhost: `[127.0.0.1]:${sink.port}`, maximal_queue_lifetime: '3s', bounce_queue_lifetime: '3s' } });
});

after(async () => {
  await daemon?.stop();
  await sink?.close();
});

test('deferred mail past maximal_queue_lifetime is returned with a DSN and removed', async () => {
  const r = await sendMail(daemon.port, { from: 'owner@client.test', to: ['never@remote.test'], raw: 'Subject: too old\r\n\r\nwill expire\r\n' });
  assert.match(r.response, /^250 /);
  await waitFor(() => sink.messages.some((m) => m.mailFrom === '' && m.rcptTo.includes('owner@client.test')), 30_000, 'the expiry DSN');
  const dsn = sink.messages.find((m) => m.mailFrom === '' && m.rcptTo.includes('owner@client.test'))!.raw.toString('utf8');
  assert.match(dsn, /Final-Recipient: rfc822; ?never@remote\.test/i);
  assert.match(dsn, /Action: failed/);
  assert.match(dsn, /Status: 4\.2\.1/);
  assert.ok(dsn.includes('Subject: too old'));
  await daemon.waitRemoved(r.queueId!, 10_000);
  const log = daemon.log();
  assert.match(log, new RegExp(`${r.queueId}: from=<owner@client\\.test>, status=expired, returned to sender`));
  const q = await daemon.cli(['queue', '--json']);
  assert.ok(!q.stdout.includes(r.queueId!), 'the expired message has left the queue');
});

test('a recipient refused in the first pass is returned then; the expired one later, in a DSN of its own', async () => {
  const r = await sendMail(daemon.port, { from: 'owner2@client.test', to: ['gone@remote.test', 'never2@remote.test'], raw: 'Subject: half refused\r\n\r\nx\r\n' });
  assert.match(r.response, /^250 /);
  await daemon.waitRemoved(r.queueId!);
  const log = daemon.log();
  assert.match(log, new RegExp(`${r.queueId}: to=<gone@remote\\.test>, relay=.*status=bounced`));
  const made = log.split('\n').filter((l) => l.includes(`${r.queueId}: sender non-delivery notification:`)).map((l) => /notification: (\S+)/.exec(l)![1]);
  assert.equal(made.length, 2, 'a notice at the end of the first pass, one at expiry');
  for (const id of made) await daemon.waitRemoved(id, 10_000);
  const dsns = sink.messages.filter((m) => m.mailFrom === '' && m.rcptTo.includes('owner2@client.test')).map((m) => m.raw.toString('utf8'));
  assert.equal(dsns.length, 2);
  const early = dsns.find((d) => /Final-Recipient: rfc822; ?gone@remote\.test/i.test(d));
  const late = dsns.find((d) => /Final-Recipient: rfc822; ?never2@remote\.test/i.test(d));
  assert.ok(early && late && early !== late, 'each recipient in a notice of its own');
  assert.match(early, /Final-Recipient: rfc822; ?gone@remote\.test[\s\S]*Status: 5\.1\.1[\s\S]*Diagnostic-Code: smtp; ?550 5\.1\.1/i);
  assert.match(late, /Final-Recipient: rfc822; ?never2@remote\.test[\s\S]*Status: 4\.2\.1/i);
  assert.ok(!/Final-Recipient: rfc822; ?gone@remote\.test/i.test(late), 'the expiry notice does not repeat gone@remote.test');
});
