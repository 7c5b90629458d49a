/**
 * Delivery agents and bounce wait on demand, as Postfix's master starts a
 * service when a client connects to it: the daemon starts without their
 * threads, the first message for a transport starts its agent, and after
 * max_idle without work the agent ends and its slot waits again. A reload
 * leaves a waiting agent waiting; the next message starts it under the new
 * configuration. Nothing is lost or delivered twice on the way.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { sendMail, waitFor } from '../helpers/send-mail.js';

let sink: SmtpSink;
let daemon: RunningDaemon;

interface Actor {
  role: string;
  service: string | null;
  state: string;
  threadId: number;
}

async function actors(): Promise<Actor[]> {
  const r = await daemon.cli(['status', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout) as { actors: Actor[] }).actors;
}

async function stateOf(service: string): Promise<string[]> {
  return (await actors()).filter((a) => a.service === service).map((a) => a.state);
}

async function waitState(service: string, state: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const states = await stateOf(service);
    if (states.length > 0 && states.every((s) => s === state)) return;
    if (Date.now() > deadline) assert.fail(`${service}: ${states.join(', ')}; wanted ${state}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

before(async () => {
  sink = await startSmtpSink();
  daemon = await startDaemon({ params: { relayhost: `[127.0.0.1]:${sink.port}`, max_idle: '2s' } });
});

after(async () => {
  await daemon?.stop();
  await sink?.close();
});

test('an agent that waits on demand starts with the first message for its transport and ends after max_idle', async () => {
  // Nothing has been delivered yet: no smtp, bounce or error thread runs; the daemons that serve do.
  for (const service of ['smtp', 'relay', 'bounce', 'error', 'discard', 'virtual', 'local']) {
    assert.deepEqual([...new Set(await stateOf(service))], ['on-demand'], service);
  }
  assert.ok((await actors()).filter((a) => a.service === 'smtp').every((a) => a.threadId === 0));
  assert.deepEqual([...new Set(await stateOf('qmgr'))], ['running']);

  const first = await sendMail(daemon.port, { from: 'a@client.test', to: ['b@remote.test'], raw: 'Subject: one\r\n\r\nfirst\r\n' });
  await daemon.waitRemoved(first.queueId!, 20_000);
  assert.equal(sink.messages.filter((m) => m.raw.toString().includes('Subject: one')).length, 1);
  assert.ok((await stateOf('smtp')).includes('running'));
  // bounce and error had no work: they still wait.
  assert.deepEqual([...new Set(await stateOf('bounce'))], ['on-demand']);

  // max_idle = 2s: the agent ends, and the next message starts a new thread.
  await waitState('smtp', 'on-demand', 15_000);
  const second = await sendMail(daemon.port, { from: 'a@client.test', to: ['c@remote.test'], raw: 'Subject: two\r\n\r\nsecond\r\n' });
  await daemon.waitRemoved(second.queueId!, 20_000);
  assert.equal(sink.messages.filter((m) => m.raw.toString().includes('Subject: two')).length, 1);
  assert.doesNotMatch(daemon.log(), /delivery agent crashed|exit status/);
});

test('a burst while the agent is ending is delivered once each, none lost', async () => {
  await waitState('smtp', 'on-demand', 15_000);
  const before = sink.messages.length;
  // Messages spread over the idle moment: some reach a running agent, some one that is ending, some a new one.
  const ids: string[] = [];
  for (let i = 0; i < 12; i++) {
    const r = await sendMail(daemon.port, { from: 'a@client.test', to: [`burst${i}@remote.test`], raw: `Subject: burst ${i}\r\n\r\nx\r\n` });
    ids.push(r.queueId!);
    await new Promise((r) => setTimeout(r, 250 * (i % 4)));
  }
  await waitFor(() => sink.messages.length - before >= 12, 60_000, 'burst delivered');
  for (const id of ids) await daemon.waitRemoved(id, 60_000);
  for (let i = 0; i < 12; i++) {
    assert.equal(sink.messages.filter((m) => m.rcptTo.includes(`burst${i}@remote.test`)).length, 1, `burst${i}`);
  }
});

test('a reload leaves a waiting agent waiting; the next message starts it under the new configuration', async () => {
  await waitState('smtp', 'on-demand', 15_000);
  const r = await daemon.cli(['reload']);
  assert.equal(r.code, 0, r.stderr);
  assert.deepEqual([...new Set(await stateOf('smtp'))], ['on-demand']);
  const third = await sendMail(daemon.port, { from: 'a@client.test', to: ['d@remote.test'], raw: 'Subject: three\r\n\r\nthird\r\n' });
  await daemon.waitRemoved(third.queueId!, 20_000);
  assert.equal(sink.messages.filter((m) => m.raw.toString().includes('Subject: three')).length, 1);
});
