/**
 * reload with the real daemon: a session in progress finishes under the old
 * configuration, new sessions get the new one, the old and the new smtpd
 * side by side never hand out one queue id twice, and a broken
 * configuration is refused with a one-line error while the running one
 * stays. At the drain deadline a message already being queued gets its
 * 250, never a 4xx. The journal serves on across a reload (no replay of
 * the queue); a listener that cannot be started (a bad address, a port
 * another process holds) refuses the reload and the old tree keeps serving.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { appendFileSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { freePort, startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { sendMail, waitFor } from '../helpers/send-mail.js';
import { SourceConnection } from '../../perf/harness/source-connection.js';

let sink: SmtpSink;
let daemon: RunningDaemon;

before(async () => {
  sink = await startSmtpSink();
  daemon = await startDaemon({ params: { relayhost: `[127.0.0.1]:${sink.port}`, smtpd_banner: '$myhostname ESMTP before-reload' } });
});

after(async () => {
  await daemon?.stop();
  await sink?.close();
});

test('a session open across a reload finishes, and new sessions see the new configuration', async () => {
  const client = await SourceConnection.open('127.0.0.1', daemon.port);
  assert.equal((await client.hello('client.test')).ok, true);
  assert.match(await client.command('MAIL FROM:<open@client.test>'), /^250/);
  const mainCf = join(daemon.configDir, 'main.cf');
  writeFileSync(mainCf, readFileSync(mainCf, 'utf8').replace('before-reload', 'after-reload'));
  const r = await daemon.cli(['reload']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(await client.command('RCPT TO:<open@remote.test>'), /^250/);
  assert.match(await client.command('DATA'), /^354/);
  const reply = await client.command('Subject: across reload\r\n\r\nbody\r\n.');
  assert.match(reply, /^250 .*queued as/);
  await client.quit();
  await waitFor(() => sink.messages.some((m) => m.rcptTo.includes('open@remote.test')), 20_000, 'delivery of the open session');
  const { createConnection } = await import('node:net');
  const banner = await new Promise<string>((res, rej) => {
    const s = createConnection(daemon.port, '127.0.0.1');
    s.on('error', rej);
    s.once('data', (d) => {
      res(d.toString());
      s.destroy();
    });
  });
  assert.match(banner, /after-reload/);
});

/** The queue id in the Received header Postrider added (the first one). */
function receivedId(raw: Buffer): string | undefined {
  return /^Received: [^]*?\sid ([0-9A-Za-z]{12})\b/m.exec(raw.toString('latin1'))?.[1];
}

test('kept-open sessions on the draining old smtpd and on the new one get distinct queue ids, and every 250 reaches the next hop', { timeout: 180_000 }, async () => {
  const PER_SESSION = 400;
  const ownSink = await startSmtpSink();
  const d = await startDaemon({ params: { relayhost: `[127.0.0.1]:${ownSink.port}` } });
  try {
    const old = await SourceConnection.open('127.0.0.1', d.port);
    assert.equal((await old.hello('old.test')).ok, true);
    // The old smtpd drains: it keeps this session while the new one listens.
    const r = await d.cli(['reload']);
    assert.equal(r.code, 0, r.stderr);
    const fresh = await SourceConnection.open('127.0.0.1', d.port);
    assert.equal((await fresh.hello('new.test')).ok, true);
    const queued = new Map<string, string>();
    const refused: string[] = [];
    const run = async (c: SourceConnection, name: string): Promise<void> => {
      for (let i = 0; i < PER_SESSION; i++) {
        const tag = `${name}-${i}`;
        const out = await c.sendMessage(`${name}@client.test`, [`${tag}@remote.test`], { head: `Subject: ${tag}\r\n\r\nbody ${tag}\r\n.\r\n` });
        const id = out.accepted ? /queued as ([0-9A-Za-z]+)/.exec(out.reply ?? '')?.[1] : undefined;
        if (id) queued.set(tag, id);
        else refused.push(`${tag}: ${out.reply ?? out.errors.map((e) => e.reply).join(' / ')}`);
      }
    };
    await Promise.all([run(old, 'old'), run(fresh, 'new')]);
    await old.quit();
    await fresh.quit();
    assert.deepEqual(refused, [], 'every message got 250');
    const ids = [...queued.values()];
    assert.equal(new Set(ids).size, ids.length, `${ids.length - new Set(ids).size} queue ids handed out twice`);
    await waitFor(() => ownSink.messages.length >= queued.size, 120_000, `${queued.size} deliveries (have ${ownSink.messages.length})`);
    const delivered = new Map<string, string | undefined>();
    for (const m of ownSink.messages) delivered.set(m.rcptTo[0].split('@')[0], receivedId(m.raw));
    assert.equal(ownSink.messages.length, queued.size, 'each message delivered once');
    for (const [tag, id] of queued) assert.equal(delivered.get(tag), id, `${tag} reached the next hop with its queue id`);
  } finally {
    await d.stop();
    await ownSink.close();
  }
});

/** The journal's thread, from status --json. */
async function journalThread(d: RunningDaemon): Promise<number> {
  const st = JSON.parse((await d.cli(['status', '--json'])).stdout) as { actors: Array<{ role: string; threadId: number }> };
  return st.actors.find((a) => a.role === 'journal')!.threadId;
}

test('the journal serves on across a reload: same thread, no second replay of the queue, mail queued meanwhile', async () => {
  const before = await journalThread(daemon);
  const opened = daemon.log().split('queue store open').length;
  const r = await daemon.cli(['reload']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(await journalThread(daemon), before, 'the journal actor was not replaced');
  assert.equal(daemon.log().split('queue store open').length, opened, 'the queue was not replayed');
  const sent = await sendMail(daemon.port, { from: 'kept@client.test', to: ['kept@remote.test'], raw: 'Subject: kept\r\n\r\njournal\r\n' });
  assert.match(sent.response, /^250 /);
  await waitFor(() => sink.messages.some((m) => m.rcptTo.includes('kept@remote.test')), 20_000, 'delivery after the reload');
});

/** Replaces the daemon's smtpd line in master.cf (the first line naming its port). */
function setListener(d: RunningDaemon, line: string): string {
  const path = join(d.configDir, 'master.cf');
  const old = readFileSync(path, 'utf8');
  writeFileSync(path, old.replace(new RegExp(`^127\\.0\\.0\\.1:${d.port} .*$`, 'm'), line));
  return old;
}

/** The old listener still greets, takes mail, and status says running. */
async function stillServing(d: RunningDaemon, tag: string): Promise<void> {
  const sent = await sendMail(d.port, { from: `${tag}@client.test`, to: [`${tag}@remote.test`], raw: `Subject: ${tag}\r\n\r\nstill\r\n` });
  assert.match(sent.response, /^250 /);
  const st = await d.cli(['status']);
  assert.equal(st.code, 0, st.stderr);
}

test('a listener on port 99999: check reports it and reload refuses it in one line; the old listener serves on', async () => {
  const old = setListener(daemon, `127.0.0.1:${daemon.port} inet n - n - - smtpd\n127.0.0.1:99999 inet n - n - - smtpd`);
  try {
    const check = await daemon.cli(['check']);
    assert.notEqual(check.code, 0, 'check passed a listener on port 99999');
    assert.match(check.stderr, /master\.cf, line \d+: .*127\.0\.0\.1:99999.*port/);
    const r = await daemon.cli(['reload']);
    assert.notEqual(r.code, 0);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    assert.match(r.stderr, /99999/);
    await stillServing(daemon, 'port99999');
  } finally {
    writeFileSync(join(daemon.configDir, 'master.cf'), old);
  }
});

/** Holds a loopback port the way another program would. */
async function occupy(): Promise<{ port: number; server: Server }> {
  const port = await freePort();
  const server = createServer((s) => s.destroy());
  await new Promise<void>((r) => server.listen(port, '127.0.0.1', r));
  return { port, server };
}

test('a new listener on a port another program holds: reload fails in one line, the old tree keeps serving', async () => {
  const busy = await occupy();
  const old = setListener(daemon, `127.0.0.1:${daemon.port} inet n - n - - smtpd\n127.0.0.1:${busy.port} inet n - n - - smtpd`);
  try {
    const threads = (await daemon.cli(['status', '--json'])).stdout;
    const r = await daemon.cli(['reload']);
    assert.notEqual(r.code, 0);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    assert.match(r.stderr, new RegExp(`127\\.0\\.0\\.1:${busy.port}`));
    await stillServing(daemon, 'portbusy');
    const ids = (s: string): number[] => (JSON.parse(s) as { actors: Array<{ threadId: number }> }).actors.map((a) => a.threadId).sort();
    assert.deepEqual(ids((await daemon.cli(['status', '--json'])).stdout), ids(threads), 'no actor was replaced');
  } finally {
    writeFileSync(join(daemon.configDir, 'master.cf'), old);
    await new Promise((r) => busy.server.close(r));
  }
});

test('the listener moved to a port another program holds: reload fails, the old listener serves on', async () => {
  const busy = await occupy();
  const old = setListener(daemon, `127.0.0.1:${busy.port} inet n - n - - smtpd`);
  try {
    const r = await daemon.cli(['reload']);
    assert.notEqual(r.code, 0);
    assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
    await stillServing(daemon, 'moved');
  } finally {
    writeFileSync(join(daemon.configDir, 'master.cf'), old);
    await new Promise((r) => busy.server.close(r));
  }
});

test('a broken configuration is refused with a one-line error and the old one keeps running', async () => {
  appendFileSync(join(daemon.configDir, 'master.cf'), 'broken-line-with-too-few-fields inet n\n');
  const r = await daemon.cli(['reload']);
  assert.notEqual(r.code, 0);
  assert.equal(r.stderr.trim().split('\n').length, 1, `one line: ${r.stderr}`);
  assert.match(r.stderr, /master\.cf/);
  const sent = await sendMail(daemon.port, { from: 'still@client.test', to: ['still@remote.test'], raw: 'Subject: still\r\n\r\nrunning\r\n' });
  assert.match(sent.response, /^250 /);
  assert.equal((await daemon.cli(['status'])).code, 0);
});

/** One message a streaming session sent, and how it went. */
interface Sent {
  tag: string;
  accepted: boolean;
  /** The reply after the final dot ("000 ..." when the connection ended without one). */
  dotReply?: string;
}

/** Sends message after message on one kept-open session until the server ends it (or `stopAt`). */
async function stream(port: number, name: string, stopAt: number): Promise<Sent[]> {
  const sent: Sent[] = [];
  const c = await SourceConnection.open('127.0.0.1', port);
  if (!(await c.hello('client.test')).ok) return sent;
  for (let n = 0; c.ended === undefined && Date.now() < stopAt; n++) {
    const tag = `${name}-${n}`;
    const out = await c.sendMessage('stream@client.test', [`${tag}@remote.test`], { head: `Subject: ${tag}\r\n\r\nbody\r\n.\r\n` });
    const dot = out.errors.find((e) => e.stage === 'dot');
    sent.push({ tag, accepted: out.accepted, dotReply: out.reply ?? dot?.reply });
    await new Promise((r) => setTimeout(r, 10));
  }
  await c.quit();
  return sent;
}

test('at the drain deadline, a message already being queued gets its 250 and only then 421; none is both refused and delivered', async () => {
  const sink2 = await startSmtpSink();
  const d = await startDaemon({ params: { relayhost: `[127.0.0.1]:${sink2.port}`, supervisor_drain_timeout: '1s' } });
  try {
    // a bound far past the deadline: the sessions must be ended by the daemon, not by this
    const stopAt = Date.now() + 120_000;
    const sessions = Array.from({ length: 8 }, (_, i) => stream(d.port, `s${i}`, stopAt));
    await new Promise((r) => setTimeout(r, 300));
    const reload = await d.cli(['reload']);
    assert.equal(reload.code, 0, reload.stderr);
    const results = (await Promise.all(sessions)).flat();
    assert.ok(Date.now() < stopAt, 'the old sessions were ended at the drain deadline, not by the test');
    const accepted = results.filter((r) => r.accepted);
    assert.ok(accepted.length > 0);
    const delivered = (): Set<string> => new Set(sink2.messages.map((m) => m.rcptTo[0].split('@')[0]));
    await waitFor(() => accepted.every((r) => delivered().has(r.tag)), 60_000, 'every accepted message delivered');
    // whatever else was queued is delivered too; then nothing refused may be among the deliveries
    await waitFor(async () => (await d.cli(['queue', '--json'])).stdout.trim() === '', 60_000, 'an empty queue');
    const got = delivered();
    const refusedButQueued = results.filter((r) => !r.accepted && r.dotReply !== undefined && got.has(r.tag));
    assert.deepEqual(refusedButQueued, [], 'a client told 4xx (or cut off) after the dot for a message that was queued would send it twice');
  } finally {
    await d.stop();
    await sink2.close();
  }
});
