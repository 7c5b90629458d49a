/**
 * End to end: a transport is a master.cf service. A custom service (`slow`)
 * delivers the transport of its name, and two services of the one smtp
 * program (`smtp`, `relay`) each deliver only their own transport, each with
 * its own -o values, as in Postfix. A transport that names no service is
 * deferred at once ("mail transport unavailable") and logged, instead of
 * waiting for a peer that is never wired. The cleanup line's own -o values
 * apply to cleanup, which runs inline in smtpd.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { sendMail, waitFor } from '../helpers/send-mail.js';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';

let sink: SmtpSink;
let daemon: RunningDaemon;

const MASTER = [
  'pickup    unix  n       -       n       60      1       pickup',
  'cleanup   unix  n       -       n       -       0       cleanup',
  '  -o header_checks=regexp:HEADER_CHECKS',
  'qmgr      unix  n       -       n       300     1       qmgr',
  'rewrite   unix  -       -       n       -       1       trivial-rewrite',
  'bounce    unix  -       -       n       -       1       bounce',
  'smtp      unix  -       -       n       -       2       smtp',
  '  -o smtp_helo_name=via-smtp-service',
  'relay     unix  -       -       n       -       2       smtp',
  '  -o smtp_helo_name=via-relay-service',
  'slow      unix  -       -       n       -       1       smtp',
  '  -o smtp_helo_name=via-slow-service',
  'error     unix  -       -       n       -       1       error',
  'retry     unix  -       -       n       -       1       error',
  'local     unix  -       n       n       -       1       local',
].join('\n');

before(async () => {
  sink = await startSmtpSink();
  const next = `[127.0.0.1]:${sink.port}`;
  // A pattern table: its results are not static, so check cannot see the
  // transport it names; qmgr has to handle it.
  const tables = mkdtempSync(join(tmpdir(), 'postrider-transport-'));
  const regexp = join(tables, 'transport.regexp');
  writeFileSync(regexp, [`/@smtp\\.test$/ smtp:${next}`, '/@nowhere\\.test$/ nosuch:', ''].join('\n'));
  const headerChecks = join(tables, 'header_checks');
  writeFileSync(headerChecks, '/^Subject: refuse me$/ REJECT refused by the cleanup service\n');
  daemon = await startDaemon({
    master: MASTER.replace('HEADER_CHECKS', headerChecks),
    params: {
      default_transport: `slow:${next}`,
      relay_domains: 'relay.test',
      relay_transport: `relay:${next}`,
      transport_maps: `regexp:${regexp}`,
    },
  });
});

after(async () => {
  await daemon?.stop();
  await sink?.close();
});

function heloOf(rcpt: string): string[] {
  return sink.messages.filter((m) => m.rcptTo.includes(rcpt)).map((m) => m.helo);
}

test('a custom transport is delivered through its own service with its own -o values', async () => {
  const r = await sendMail(daemon.port, { from: 'a@client.test', to: ['b@elsewhere.test'], raw: 'Subject: slow\r\n\r\nvia the slow service\r\n' });
  assert.match(r.response, /^250 /);
  await waitFor(() => heloOf('b@elsewhere.test').length > 0, 20_000, 'delivery through the slow service');
  assert.deepEqual(heloOf('b@elsewhere.test'), ['via-slow-service']);
  await daemon.waitRemoved(r.queueId!, 10_000);
  assert.match(daemon.log(), new RegExp(`${r.queueId}: to=<b@elsewhere\\.test>, relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${sink.port},.* status=sent`));
});

test('two services of one program apply their -o values only to their own transport', async () => {
  const sent: string[] = [];
  for (let i = 0; i < 12; i++) {
    for (const domain of ['smtp.test', 'relay.test']) {
      const to = `u${i}@${domain}`;
      const r = await sendMail(daemon.port, { from: 'a@client.test', to: [to], raw: `Subject: ${to}\r\n\r\nhello\r\n` });
      assert.match(r.response, /^250 /);
      sent.push(to);
    }
  }
  await waitFor(() => sent.every((to) => heloOf(to).length > 0), 30_000, 'all 24 deliveries');
  for (const to of sent) {
    const want = to.endsWith('@relay.test') ? 'via-relay-service' : 'via-smtp-service';
    assert.deepEqual(heloOf(to), [want], `${to} went out through the ${want.split('-')[1]} service`);
  }
});

test('a transport that names no service is deferred at once and logged, not held for the delivery timeout', async () => {
  const r = await sendMail(daemon.port, { from: 'a@client.test', to: ['x@nowhere.test'], raw: 'Subject: nowhere\r\n\r\nno such transport\r\n' });
  assert.match(r.response, /^250 /);
  await waitFor(() => daemon.log().includes(`${r.queueId}: to=<x@nowhere.test>`), 20_000, 'the deferral');
  const log = daemon.log();
  assert.match(log, new RegExp(`${r.queueId}: to=<x@nowhere\\.test>, relay=none, .*dsn=4\\.3\\.0, status=deferred \\(mail transport unavailable\\)`));
  assert.match(log, /warning: connect to transport private\/nosuch: /);
});

test("the cleanup line's -o values apply to cleanup, which runs inside smtpd", async () => {
  const refused = await sendMail(daemon.port, { from: 'a@client.test', to: ['b@smtp.test'], raw: 'Subject: refuse me\r\n\r\nbody\r\n' }).then(
    () => 'accepted',
    (err: Error & { response?: string }) => err.response ?? err.message,
  );
  assert.match(refused, /^550 5\.7\.1 refused by the cleanup service/);
});
