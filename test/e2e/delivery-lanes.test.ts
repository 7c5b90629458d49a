/**
 * End to end through the real daemon: one busy destination is delivered by
 * both smtp threads of the transport (qmgr-lanes), and the next hop still
 * never sees more sessions, nor more transactions at once, than the
 * destination's concurrency limit.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { sendMail, waitFor } from '../helpers/send-mail.js';

let sink: SmtpSink;
let daemon: RunningDaemon;
const LIMIT = 4;

before(async () => {
  // A slow answer to the end of data keeps deliveries in flight, as a busy relayhost does.
  sink = await startSmtpSink({ dataDelayMs: 120 });
  daemon = await startDaemon({
    params: {
      relayhost: `[127.0.0.1]:${sink.port}`,
      default_destination_concurrency_limit: String(LIMIT),
      initial_destination_concurrency: String(LIMIT),
    },
  });
});

after(async () => {
  await daemon?.stop();
  await sink?.close();
});

test('a busy destination spills over both smtp threads, within its concurrency limit for the host', async () => {
  const n = 32;
  const sent = await Promise.all(
    Array.from({ length: n }, (_, i) => sendMail(daemon.port, { from: 's@client.test', to: [`lane${i}@relay.test`], raw: `Subject: lane ${i}\r\n\r\nbody ${i}\r\n` })),
  );
  for (const r of sent) assert.match(r.response, /^250 /);
  await waitFor(() => Array.from({ length: n }, (_, i) => `lane${i}@relay.test`).every((a) => sink.messages.some((m) => m.rcptTo.includes(a))), 60_000, 'all delivered');
  // Every to= line names the smtp thread that delivered it.
  const agents = new Set<string>();
  await waitFor(() => {
    agents.clear();
    for (const m of daemon.log().matchAll(/ postrider\/smtp\[(\d+)\]: \w+: to=<lane\d+@relay\.test>.*status=sent/g)) agents.add(m[1]);
    return [...daemon.log().matchAll(/to=<lane\d+@relay\.test>.*status=sent/g)].length === n;
  }, 10_000, 'a delivery line per message');
  assert.equal(agents.size, 2, `both smtp threads delivered (saw ${[...agents].join(', ')})`);
  assert.equal(sink.maxTransactions, LIMIT, 'deliveries overlapped up to the limit');
  assert.ok(sink.maxConcurrent <= LIMIT, `the next hop saw ${sink.maxConcurrent} sessions at once; the limit is ${LIMIT}`);
  assert.ok(sink.connections < n, `sessions were reused (${sink.connections} for ${n} messages)`);
});
