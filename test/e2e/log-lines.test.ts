/**
 * Log lines a Postfix log reader relies on, through the real daemon: the
 * tag follows the master.cf service (`-o syslog_name=postrider/$service_name`
 * gives postrider/relay/smtp, as Postfix's stock master.cf gives
 * postfix/relay/smtp), [N] is the thread that wrote the line (unique over
 * the daemon's life), and the delay notice is a "sender delay notification".
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
    rcpt: (to) => (to.startsWith('slow@') ? { code: 451, message: '4.3.2 try again later' } : null),
  });
  daemon = await startDaemon({
    params: {
      relayhost: `[127.0.0.1]:${sink.port}`,
      relay_domains: 'relay.test',
      delay_warning_time: '1s',
      minimal_backoff_time: '1s',
      maximal_backoff_time: '2s',
      queue_run_delay: '1s',
    },
    master: [
      'pickup    unix  n       -       n       60      1       pickup',
      'cleanup   unix  n       -       n       -       0       cleanup',
      'qmgr      unix  n       -       n       300     1       qmgr',
      'rewrite   unix  -       -       n       -       1       trivial-rewrite',
      'bounce    unix  -       -       n       -       1       bounce',
      'smtp      unix  -       -       n       -       1       smtp',
      'relay     unix  -       -       n       -       1       smtp',
      '  -o syslog_name=postrider/$service_name',
      'error     unix  -       -       n       -       1       error',
      'retry     unix  -       -       n       -       -       error',
      'discard   unix  -       -       n       -       1       discard',
      'virtual   unix  -       n       n       -       1       virtual',
      'local     unix  -       n       n       -       -       local',
    ].join('\n'),
  });
});

after(async () => {
  await daemon?.stop();
  await sink?.close();
});

interface ActorStatus { role: string; service?: string; threadId: number }

test('the smtp tag follows the transport, and [N] is the thread id of the actor that wrote the line', async () => {
  const a = await sendMail(daemon.port, { from: 's@client.test', to: ['b@remote.test'], raw: 'Subject: smtp\r\n\r\nx\r\n' });
  const b = await sendMail(daemon.port, { from: 's@client.test', to: ['b@relay.test'], raw: 'Subject: relay\r\n\r\nx\r\n' });
  await daemon.waitRemoved(a.queueId!, 20_000);
  await daemon.waitRemoved(b.queueId!, 20_000);
  const log = daemon.log();
  const viaSmtp = new RegExp(` postrider/smtp\\[(\\d+)\\]: ${a.queueId}: to=<b@remote\\.test>, relay=127\\.0\\.0\\.1.*status=sent`).exec(log);
  const viaRelay = new RegExp(` postrider/relay/smtp\\[(\\d+)\\]: ${b.queueId}: to=<b@relay\\.test>, relay=127\\.0\\.0\\.1.*status=sent`).exec(log);
  assert.ok(viaSmtp, log);
  assert.ok(viaRelay, log);
  const st = await daemon.cli(['status', '--json']);
  const actors = (JSON.parse(st.stdout) as { actors: ActorStatus[] }).actors;
  const threadOf = (service: string): number | undefined => actors.find((x) => x.role === 'smtp' && x.service === service)?.threadId;
  assert.equal(Number(viaSmtp[1]), threadOf('smtp'), JSON.stringify(actors));
  assert.equal(Number(viaRelay[1]), threadOf('relay'), JSON.stringify(actors));
  assert.notEqual(viaSmtp[1], viaRelay[1]);
  // The listener runs several smtpd threads: the line carries the id of whichever took the session.
  const smtpdThreads = actors.filter((x) => x.role === 'smtpd').map((x) => x.threadId);
  const client = new RegExp(` postrider/smtpd\\[(\\d+)\\]: ${a.queueId}: client=localhost\\[127\\.0\\.0\\.1\\]`).exec(log);
  assert.ok(client, log);
  assert.ok(smtpdThreads.includes(Number(client[1])), `smtpd[${client[1]}] is one of the smtpd threads ${smtpdThreads.join(', ')}`);
});

test('a delay notice is logged as a "sender delay notification", as Postfix words it', async () => {
  const r = await sendMail(daemon.port, { from: 'waiting@client.test', to: ['slow@remote.test'], raw: 'Subject: slow\r\n\r\nx\r\n' });
  assert.match(r.response, /^250 /);
  await waitFor(() => new RegExp(`${r.queueId}: sender delay notification: [0-9A-Za-z]+`).test(daemon.log()), 30_000, 'delay notification line');
  assert.ok(!daemon.log().includes('delay status notification'));
});
