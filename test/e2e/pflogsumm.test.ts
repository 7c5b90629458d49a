/**
 * pflogsumm reads Postrider's maillog as it reads Postfix's: a scripted run
 * through the real daemon (accepted, deferred then delivered, bounced, and
 * rejected at RCPT) and pflogsumm's grand totals must match what the client
 * and the next hop saw. pflogsumm must be installed; without it the test
 * fails with a message saying so.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { sendMail, waitFor } from '../helpers/send-mail.js';

let sink: SmtpSink;
let daemon: RunningDaemon;
let acceptLater = false;
let deferrals = 0;
let bounces = 0;

/** pflogsumm from PATH or the Debian package's place. */
function findPflogsumm(): string | undefined {
  const dirs = [...(process.env.PATH ?? '').split(':'), '/usr/sbin', '/usr/bin', '/usr/local/sbin', '/usr/local/bin'];
  for (const d of dirs) {
    if (d && existsSync(`${d}/pflogsumm`)) return `${d}/pflogsumm`;
  }
  return undefined;
}

function runPflogsumm(bin: string, logFile: string): Promise<string> {
  return new Promise((res, rej) => {
    execFile(bin, ['--syslog-name=postrider', logFile], { timeout: 20_000 }, (err, stdout, stderr) => {
      if (err) rej(new Error(`pflogsumm failed: ${err.message} ${String(stderr)}`));
      else res(String(stdout));
    });
  });
}

/** The number in front of a "Grand Totals" label ("   5   delivered"). */
function total(report: string, label: string): number {
  const m = new RegExp(`^\\s*(\\d+)\\s+${label}\\b`, 'm').exec(report);
  assert.ok(m, `pflogsumm report has a "${label}" line:\n${report}`);
  return Number(m[1]);
}

before(async () => {
  sink = await startSmtpSink({
    rcpt: (to) => {
      if (to === 'bounce@remote.test') {
        bounces++;
        return { code: 550, message: '5.1.1 <' + to + '>: Recipient address rejected: User unknown' };
      }
      if (to === 'later@remote.test' && !acceptLater) {
        deferrals++;
        return { code: 451, message: '4.3.2 try again later' };
      }
      return null;
    },
  });
  daemon = await startDaemon({
    params: {
      relayhost: `[127.0.0.1]:${sink.port}`,
      smtpd_recipient_restrictions: 'check_recipient_access inline:{ reject@remote.test=REJECT }, permit_mynetworks, reject_unauth_destination',
    },
  });
});

after(async () => {
  await daemon?.stop();
  await sink?.close();
});

test('pflogsumm counts received, delivered, deferred, bounced and rejected as the client and the next hop saw them', async () => {
  const bin = findPflogsumm();
  assert.ok(bin, 'pflogsumm is not installed (Debian: apt-get install pflogsumm); this test needs it');

  const raw = (to: string, n: number): string => `From: a@client.test\r\nTo: ${to}\r\nSubject: pflogsumm ${n}\r\nMessage-ID: <pfl.${n}@client.test>\r\n\r\nbody ${n}\r\n`;
  const sends = [
    { from: 'a@client.test', to: ['ok1@remote.test'] },
    { from: 'b@client.test', to: ['ok2@remote.test', 'ok3@remote.test'] },
    { from: 'a@client.test', to: ['later@remote.test'] },
    { from: 'c@client.test', to: ['bounce@remote.test'] },
    { from: 'a@client.test', to: ['ok4@remote.test', 'reject@remote.test'] },
  ];
  let accepted = 0;
  let rejectedRcpts = 0;
  const ids: string[] = [];
  for (const [i, s] of sends.entries()) {
    const r = await sendMail(daemon.port, { ...s, raw: raw(s.to[0]!, i) });
    assert.match(r.response, /^250 /);
    accepted++;
    rejectedRcpts += r.rejected.length;
    ids.push(r.queueId!);
  }
  assert.equal(rejectedRcpts, 1, 'the client saw one recipient refused at RCPT');

  // The deferred recipient is delivered once the next hop takes it.
  await waitFor(() => deferrals > 0, 20_000, 'a 451 deferral');
  acceptLater = true;
  await daemon.cli(['flush']);
  // Every message, and the bounce notice to c@client.test, leaves the queue.
  await waitFor(() => {
    const log = readFileSync(daemon.logFile, 'utf8');
    return ids.every((id) => log.includes(`${id}: removed`))
      && sink.messages.some((m) => m.mailFrom === '' && m.rcptTo.includes('c@client.test'));
  }, 30_000, 'every message removed and the bounce delivered');
  await waitFor(() => {
    const log = readFileSync(daemon.logFile, 'utf8');
    return (log.match(/: removed$/gm) ?? []).length >= accepted + 1;
  }, 20_000, 'the bounce notice removed');

  const deliveredRcpts = sink.messages.filter((m) => !m.refused).reduce((n, m) => n + m.rcptTo.length, 0);
  const report = await runPflogsumm(bin, daemon.logFile);
  assert.equal(total(report, 'received'), accepted, 'received = messages the client got 250 for');
  assert.equal(total(report, 'delivered'), deliveredRcpts, 'delivered = recipients the next hop accepted');
  assert.equal(deliveredRcpts, 6, 'five relayed recipients and one bounce notice');
  assert.equal(total(report, 'deferred'), 1, 'deferred = messages that met a 451');
  assert.ok(deferrals >= 1);
  assert.equal(total(report, 'bounced'), bounces, 'bounced = recipients the next hop refused with 5xx');
  assert.equal(bounces, 1);
  assert.equal(total(report, 'rejected'), rejectedRcpts, 'rejected = RCPT refusals the client saw');
  assert.equal(total(report, 'senders'), 3, 'three envelope senders received over SMTP');
  assert.match(report, /Recipient address rejected|Access denied|reject/i);
});
