/**
 * The "expanded" success notice end to end, as Postfix 3.7's local(8) and
 * RFC 3461 section 6.2 have it: a local alias that expands a recipient who
 * asked NOTIFY=SUCCESS gives the sender one success notice for the alias,
 * Action: expanded, "alias expanded"; the expansions go on with NOTIFY
 * without SUCCESS (NEVER when SUCCESS was all), and with the alias's ORCPT,
 * so the next hop sends no success notice of its own for each of them.
 * The expansions' next hop is a sink offering DSN; notices to the sender
 * go through the relayhost, a second sink.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startSmtpSink, type SmtpSink, noticesTo as noticesAt } from '../helpers/smtp-sink.js';
import { startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { sendMail, waitFor } from '../helpers/send-mail.js';

let nextHop: SmtpSink;
let noticeSink: SmtpSink;
let daemon: RunningDaemon;
let dir = '';

before(async () => {
  dir = mkdtempSync(join(tmpdir(), 'postrider-expanded-'));
  writeFileSync(join(dir, 'aliases'), ['team: ann@remote.test, bob@remote.test', 'solo: cy@remote.test', ''].join('\n'));
  nextHop = await startSmtpSink();
  noticeSink = await startSmtpSink({ host: '127.0.0.3' });
  daemon = await startDaemon({
    params: {
      myhostname: 'box.test',
      mydestination: '$myhostname',
      alias_maps: `hash:${join(dir, 'aliases')}`,
      alias_database: `hash:${join(dir, 'aliases')}`,
      relayhost: `[127.0.0.3]:${noticeSink.port}`,
      transport_maps: `inline:{ remote.test=smtp:[127.0.0.1]:${nextHop.port} }`,
    },
  });
});

after(async () => {
  await daemon?.stop();
  await nextHop?.close();
  await noticeSink?.close();
  if (dir) rmSync(dir, { recursive: true, force: true });
});

function noticesTo(sender: string): string[] {
  return noticesAt(noticeSink, sender);
}

async function send(from: string, to: string, notify: string[]): Promise<string> {
  const r = await sendMail(daemon.port, { from, to: [to], raw: `From: ${from}\r\nSubject: expanded\r\n\r\nhello\r\n`, dsn: { notify } });
  assert.match(r.response, /^250 /);
  assert.ok(r.queueId);
  return r.queueId;
}

test('NOTIFY=SUCCESS,FAILURE to a local alias: one "expanded" success notice for the alias; the expansions carry NOTIFY=FAILURE and the ORCPT', async () => {
  const id = await send('lister@sender.test', 'team@box.test', ['SUCCESS', 'FAILURE']);
  await daemon.waitRemoved(id);
  await waitFor(() => nextHop.messages.filter((m) => m.mailFrom === 'lister@sender.test').length === 1, 20_000, 'the forwarded copy');
  const copy = nextHop.messages.find((m) => m.mailFrom === 'lister@sender.test')!;
  assert.deepEqual([...copy.rcptTo].sort(), ['ann@remote.test', 'bob@remote.test']);
  for (const p of copy.rcptParams) {
    assert.equal(p.NOTIFY, 'FAILURE', 'SUCCESS is not passed on to the expansions');
    assert.equal(p.ORCPT, 'rfc822;team@box.test');
  }
  await waitFor(() => noticesTo('lister@sender.test').length > 0, 20_000, 'the success notice');
  // Give a wrong second notice (one per expansion) time to show up.
  await new Promise((r) => setTimeout(r, 1500));
  const notices = noticesTo('lister@sender.test');
  assert.equal(notices.length, 1, 'one notice, for the alias');
  const notice = notices[0];
  assert.match(notice, /Subject: Successful Mail Delivery Report/);
  assert.match(notice, /\r\n<team@box\.test>: alias expanded\r\n/);
  assert.match(notice, /\r\nFinal-Recipient: rfc822; team@box\.test\r\nOriginal-Recipient: rfc822; team@box\.test\r\nAction: expanded\r\nStatus: 2\.0\.0\r\n/);
  assert.doesNotMatch(notice, /Final-Recipient: rfc822; (ann|bob)@remote\.test/);
});

test('NOTIFY=SUCCESS alone: the expansion goes on with NOTIFY=NEVER, and the alias is reported "expanded"', async () => {
  const id = await send('solo@sender.test', 'solo@box.test', ['SUCCESS']);
  await daemon.waitRemoved(id);
  await waitFor(() => nextHop.messages.some((m) => m.mailFrom === 'solo@sender.test'), 20_000, 'the forwarded copy');
  const copy = nextHop.messages.find((m) => m.mailFrom === 'solo@sender.test')!;
  assert.deepEqual(copy.rcptTo, ['cy@remote.test']);
  assert.equal(copy.rcptParams[0].NOTIFY, 'NEVER');
  await waitFor(() => noticesTo('solo@sender.test').length > 0, 20_000, 'the success notice');
  assert.match(noticesTo('solo@sender.test')[0], /\r\nFinal-Recipient: rfc822; solo@box\.test\r\nOriginal-Recipient: rfc822; solo@box\.test\r\nAction: expanded\r\n/);
});

test('without NOTIFY=SUCCESS the alias gets no notice and its expansions no NOTIFY of their own', async () => {
  const r = await sendMail(daemon.port, { from: 'plain@sender.test', to: ['team@box.test'], raw: 'Subject: plain\r\n\r\nhello\r\n' });
  assert.ok(r.queueId);
  await daemon.waitRemoved(r.queueId);
  await waitFor(() => nextHop.messages.some((m) => m.mailFrom === 'plain@sender.test'), 20_000, 'the forwarded copy');
  const copy = nextHop.messages.find((m) => m.mailFrom === 'plain@sender.test')!;
  assert.equal(copy.rcptParams[0].NOTIFY, undefined);
  assert.equal(noticesTo('plain@sender.test').length, 0);
});
