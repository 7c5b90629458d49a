/**
 * End to end: an after-queue content filter (Postfix's FILTER_README). The
 * main smtpd service has content_filter = scan:[127.0.0.1]:FILTER, so qmgr
 * hands every message to the `scan` service (an smtp client), which sends
 * it to a small SMTP proxy written here; the proxy adds a header and sends
 * the message back into a second smtpd service (-o content_filter= and
 * -o receive_override_options=...), from where it goes to the sink. The
 * mail passes the filter exactly once; a filter that is down leaves the
 * mail deferred in the queue until it is back.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { SMTPServer, type SMTPServerDataStream, type SMTPServerSession } from 'smtp-server';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { freePort, startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { sendMail, waitFor } from '../helpers/send-mail.js';

let sink: SmtpSink;
let daemon: RunningDaemon;
let filterPort: number;
let reinjectPort: number;
/** Messages the filter took, as it received them. */
const filtered: Array<{ from: string; to: string[]; raw: string }> = [];
let filter: SMTPServer | undefined;

/** The filter: receives a message, adds X-Filtered, sends it back into the re-injection service; says 250 only once that took it. */
async function startFilter(): Promise<void> {
  const server = new SMTPServer({
    logger: false,
    disableReverseLookup: true,
    authOptional: true,
    disabledCommands: ['AUTH', 'STARTTLS'],
    onData(stream: SMTPServerDataStream, session: SMTPServerSession, callback: (err?: Error | null, message?: string) => void) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const raw = Buffer.concat(chunks).toString('utf8');
        const env = session.envelope;
        const from = env.mailFrom ? env.mailFrom.address : '';
        const to = env.rcptTo.map((r) => r.address);
        filtered.push({ from, to, raw });
        sendMail(reinjectPort, { from, to, raw: `X-Filtered: by the test filter\r\n${raw}` }).then(
          (r) => callback(null, `2.0.0 Ok: filtered and queued (${r.response})`),
          (err: Error) => callback(Object.assign(new Error(`4.3.0 re-injection failed: ${err.message}`), { responseCode: 451 })),
        );
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(filterPort, '127.0.0.1', resolve));
  filter = server;
}

function stopFilter(): Promise<void> {
  const f = filter;
  filter = undefined;
  return new Promise((resolve) => (f ? f.close(() => resolve()) : resolve()));
}

before(async () => {
  sink = await startSmtpSink();
  filterPort = await freePort();
  reinjectPort = await freePort();
  await startFilter();
  const tables = mkdtempSync(join(tmpdir(), 'postrider-filter-'));
  const headerChecks = join(tables, 'header_checks');
  // Mail that comes back from the filter carries this header: the re-injection service must not check it again.
  writeFileSync(headerChecks, '/^X-Filtered:/ REJECT checked twice\n');
  daemon = await startDaemon({
    // Three listeners and a filter transport: on a loaded machine the start takes longer than the default wait.
    readyTimeoutMs: 90_000,
    params: {
      relayhost: `[127.0.0.1]:${sink.port}`,
      content_filter: `scan:[127.0.0.1]:${filterPort}`,
      header_checks: `regexp:${headerChecks}`,
    },
    masterExtra: [
      'scan      unix  -       -       n       -       2       smtp',
      '  -o smtp_helo_name=to-the-filter',
      `127.0.0.1:${reinjectPort} inet n - n - 1 smtpd`,
      '  -o content_filter=',
      '  -o receive_override_options=no_header_body_checks,no_unknown_recipient_checks,no_milters',
      '  -o smtpd_recipient_restrictions=permit_mynetworks,reject',
    ],
  });
});

after(async () => {
  await daemon?.stop();
  await stopFilter();
  await sink?.close();
});

test('content_filter: mail goes out to the filter, comes back in on the second service, and reaches the sink exactly once', async () => {
  const r = await sendMail(daemon.port, { from: 'a@client.test', to: ['u@remote.test'], raw: 'Subject: through the filter\r\n\r\nhello\r\n' });
  assert.match(r.response, /^250 /);
  await waitFor(() => sink.messages.some((m) => m.rcptTo.includes('u@remote.test')), 30_000, 'delivery through the filter');
  await daemon.waitRemoved(r.queueId!, 10_000);
  // The original went to the filter, by the scan service.
  assert.match(daemon.log(), new RegExp(`${r.queueId}: to=<u@remote\\.test>, relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${filterPort},.* status=sent`));
  // The copy that came back is a new message, delivered to the sink and removed.
  const toSink = new RegExp(`([0-9A-Za-z]+): to=<u@remote\\.test>, relay=127\\.0\\.0\\.1\\[127\\.0\\.0\\.1\\]:${sink.port},.* status=sent`);
  await waitFor(() => toSink.test(daemon.log()), 10_000, 'the delivery of the filtered copy');
  const back = toSink.exec(daemon.log())!;
  assert.notEqual(back[1], r.queueId);
  await daemon.waitRemoved(back[1], 10_000);
  // Exactly once: give a stray second pass the time it would need, then count.
  await new Promise((res) => setTimeout(res, 1500));
  const atSink = sink.messages.filter((m) => m.rcptTo.includes('u@remote.test'));
  assert.equal(atSink.length, 1);
  assert.equal(filtered.filter((m) => m.to.includes('u@remote.test')).length, 1);
  const text = atSink[0].raw.toString('utf8');
  assert.match(text, /^X-Filtered: by the test filter\r\n/m);
  assert.match(text, /Subject: through the filter/);
  assert.equal(atSink[0].mailFrom, 'a@client.test');
  assert.equal(atSink[0].helo !== 'to-the-filter', true, 'the sink hears the relay service, not the filter transport');
  assert.equal(filtered[0].raw.includes('X-Filtered'), false, 'the filter got the message before its own header');
});

test('content_filter down: the mail waits deferred in the queue and goes through once the filter is back', async () => {
  await stopFilter();
  const r = await sendMail(daemon.port, { from: 'a@client.test', to: ['v@remote.test'], raw: 'Subject: while the filter is down\r\n\r\nwait\r\n' });
  assert.match(r.response, /^250 /);
  await waitFor(() => new RegExp(`${r.queueId}: to=<v@remote\\.test>, relay=none, .*status=deferred`).test(daemon.log()), 30_000, 'the deferral');
  const q = await daemon.cli(['queue', '--json']);
  assert.match(q.stdout, new RegExp(`"queue_id": ?"${r.queueId}"`));
  assert.equal(sink.messages.filter((m) => m.rcptTo.includes('v@remote.test')).length, 0);
  await startFilter();
  await waitFor(() => sink.messages.some((m) => m.rcptTo.includes('v@remote.test')), 30_000, 'delivery once the filter is back');
  await daemon.waitRemoved(r.queueId!, 10_000);
  await new Promise((res) => setTimeout(res, 1500));
  const atSink = sink.messages.filter((m) => m.rcptTo.includes('v@remote.test'));
  assert.equal(atSink.length, 1);
  assert.match(atSink[0].raw.toString('utf8'), /^X-Filtered: by the test filter\r\n/m);
});

test('content_filter applies to mail from sendmail (pickup) too', async () => {
  const before = filtered.length;
  const r = await daemon.cli(['sendmail', '-f', 'a@client.test', 'w@remote.test'], 'Subject: local mail\n\nfrom the command line\n');
  assert.equal(r.code, 0, r.stderr);
  await waitFor(() => sink.messages.some((m) => m.rcptTo.includes('w@remote.test')), 30_000, 'delivery of local mail through the filter');
  assert.equal(filtered.length, before + 1);
  assert.deepEqual(filtered.at(-1)!.to, ['w@remote.test']);
  assert.match(sink.messages.find((m) => m.rcptTo.includes('w@remote.test'))!.raw.toString('utf8'), /^X-Filtered: by the test filter\r\n/m);
});
