/**
 * The real daemon under a low open-file limit (ulimit -n 256): SMTP
 * sessions are refused once the listener holds its share of the limit,
 * and the control socket (status), the journal (a message on an open
 * session) and pickup (sendmail) keep working while they are all open.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { startDaemon } from '../helpers/daemon.js';
import { sendMail, waitFor } from '../helpers/send-mail.js';
import { startSmtpSink } from '../helpers/smtp-sink.js';

const LIMIT = 256;

/** Opens a session; resolves with the socket once greeted, or undefined when closed unanswered. */
function open(port: number): Promise<Socket | undefined> {
  return new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    s.setEncoding('utf8');
    s.once('data', (d: string) => resolve(d.startsWith('220') ? s : (s.destroy(), undefined)));
    s.once('error', () => resolve(undefined));
    s.once('close', () => resolve(undefined));
  });
}

test(`under ulimit -n ${LIMIT}: sessions are refused at the listener's share; status, the journal and pickup keep working`, async () => {
  const sink = await startSmtpSink();
  // One smtpd thread: each thread of a listener holds its own share, and the kernel picks the
  // thread of a new connection, so the session freed below would not surely make room for it.
  const d = await startDaemon({ launcher: ['sh', '-c', `ulimit -n ${LIMIT} && exec "$0" "$@"`], listenerMaxproc: '1', params: { relayhost: `[127.0.0.1]:${sink.port}` } });
  const held: Socket[] = [];
  try {
    const budget = /open-file limit (\d+): .* at most (\d+) sessions/.exec(d.log());
    assert.ok(budget, 'the start-up log states the division of the limit');
    assert.equal(Number(budget[1]), LIMIT);
    let refused = false;
    for (let i = 0; i < LIMIT && !refused; i++) {
      const s = await open(d.port);
      if (s) held.push(s);
      else refused = true;
    }
    assert.ok(refused, `a session past the share was refused (${held.length} were greeted)`);
    assert.ok(held.length >= Number(budget[2]), `the listener held its share of ${budget[2]} (${held.length})`);

    const st = await d.cli(['status', '--json']);
    assert.equal(st.code, 0, st.stderr);
    assert.equal(st.stderr, '', 'the control socket answered');
    assert.equal((JSON.parse(st.stdout) as { ready: boolean }).ready, true);

    // the journal: a message in the place of one session that ends
    held.pop()?.destroy();
    const sent = await sendMail(d.port, { from: 'fd@client.test', to: ['smtp@remote.test'], raw: 'Subject: fd smtp\r\n\r\nbody\r\n' });
    assert.match(sent.response, /^250 /);

    // pickup
    const pickup = await d.cli(['sendmail', '-f', 'fd@client.test', 'pickup@remote.test'], 'Subject: fd pickup\r\n\r\nbody\r\n');
    assert.equal(pickup.code, 0, pickup.stderr);
    await waitFor(() => ['smtp@remote.test', 'pickup@remote.test'].every((r) => sink.messages.some((m) => m.rcptTo.includes(r))), 60_000, 'both messages delivered');
    assert.doesNotMatch(d.log(), /EMFILE|too many open files/i);
    assert.equal(d.child.exitCode, null, 'the daemon runs on');
  } finally {
    for (const s of held) s.destroy();
    await d.stop();
    await sink.close();
  }
});
