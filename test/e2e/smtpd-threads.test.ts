/**
 * smtpd-threads: an inet service runs maxproc smtpd threads on one port
 * (listen option reusePort) with the real daemon. Both threads take
 * connections; the per-client limits are counted across the threads by the
 * anvil actor, so the N+1st connection (or message) of one client is
 * refused whichever thread takes it; a reload replaces both threads while a
 * session open on an old one finishes; and on a Node without reusePort
 * (forced here) the service runs one thread and one warning line says so.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { waitFor } from '../helpers/send-mail.js';
import { ANVIL_RETRY_MS } from '../../src/actors/smtpd/smtpd-anvil.js';

/** A raw SMTP client: the greeting, then one reply per command (multi-line replies joined). */
interface Client {
  greeting: string;
  cmd(line: string): Promise<string>;
  close(): void;
  closed: Promise<void>;
}

async function open(port: number): Promise<Client> {
  const socket: Socket = connect(port, '127.0.0.1');
  socket.setEncoding('utf8');
  let buf = '';
  const replies: string[] = [];
  const waiting: Array<(r: string) => void> = [];
  let ended = false;
  const closed = new Promise<void>((resolve) => socket.on('close', () => resolve()));
  socket.on('error', () => undefined);
  socket.on('data', (d: string) => {
    buf += d;
    for (;;) {
      const m = /^(\d{3}) .*\r?\n/m.exec(buf);
      if (!m) break;
      const reply = buf.slice(0, m.index + m[0].length).trim();
      buf = buf.slice(m.index + m[0].length);
      const w = waiting.shift();
      if (w) w(reply);
      else replies.push(reply);
    }
  });
  socket.on('close', () => {
    ended = true;
    for (const w of waiting.splice(0)) w('<closed>');
  });
  const next = (): Promise<string> => (replies.length ? Promise.resolve(replies.shift()!) : ended ? Promise.resolve('<closed>') : new Promise((r) => waiting.push(r)));
  const greeting = await next();
  return {
    greeting,
    cmd: (line) => {
      socket.write(`${line}\r\n`);
      return next();
    },
    close: () => socket.destroy(),
    closed,
  };
}

interface ActorRow {
  role: string;
  instance: number;
  service: string | null;
  threadId: number;
  state: string;
}

async function smtpdThreads(d: RunningDaemon): Promise<ActorRow[]> {
  const r = await d.cli(['status', '--json']);
  assert.equal(r.code, 0, r.stderr);
  return (JSON.parse(r.stdout).actors as ActorRow[]).filter((a) => a.role === 'smtpd' && a.service === `127.0.0.1:${d.port}`);
}

/** The smtpd threads (the [N] of a log line is the thread id) whose log lines contain `text`. */
function instancesLogging(d: RunningDaemon, text: string): Set<number> {
  const out = new Set<number>();
  for (const line of d.log().split('\n')) {
    const m = /\/smtpd\[(\d+)\]: (.*)$/.exec(line);
    if (m && m[2].includes(text)) out.add(Number(m[1]));
  }
  return out;
}

// The test clients come from 127.0.0.1, in mynetworks: without this they would be exempt from the limits.
const LIMITED = { smtpd_client_event_limit_exceptions: '' };

test('an inet service with maxproc 2 runs two smtpd threads on one port, and both take connections', async () => {
  const d = await startDaemon({ listenerMaxproc: '2' });
  try {
    const threads = await smtpdThreads(d);
    assert.equal(threads.length, 2, 'two smtpd threads for the service');
    assert.equal(new Set(threads.map((t) => t.threadId)).size, 2, 'each its own thread id');
    assert.ok(threads.every((t) => t.threadId > 0 && t.state === 'running'));
    // The kernel spreads connections over the two sockets; keep connecting until both have served one.
    for (let i = 0; i < 64 && instancesLogging(d, 'connect from localhost[127.0.0.1]').size < 2; i++) {
      const c = await open(d.port);
      assert.match(c.greeting, /^220 /);
      assert.match(await c.cmd('QUIT'), /^221 /);
      await c.closed;
      await waitFor(() => d.log().split('\n').filter((l) => l.includes('disconnect from localhost[127.0.0.1]')).length > i, 10_000, 'the disconnect line');
    }
    const served = instancesLogging(d, 'connect from localhost[127.0.0.1]');
    assert.deepEqual([...served].sort(), threads.map((t) => t.threadId).sort(), 'both threads served sessions');
    assert.match(d.log(), /daemon started -- version .*, Node v\d+\.\d+\.\d+, configuration /, 'the Node version in the start line');
  } finally {
    await d.stop();
  }
});

test('smtpd_client_connection_count_limit holds across threads: the 3rd open connection gets 421 whichever thread takes it', async () => {
  const d = await startDaemon({ listenerMaxproc: '2', params: { ...LIMITED, smtpd_client_connection_count_limit: '2' } });
  try {
    const held: Client[] = [];
    const refusal = '421 4.7.0 mx.postrider.test Error: too many connections from 127.0.0.1';
    let refused = 0;
    // Open connections (keeping the admitted ones) until each thread has refused one.
    for (let i = 0; i < 64 && (refused < 1 || instancesLogging(d, 'Connection concurrency limit exceeded: 3 from localhost[127.0.0.1]').size < 2); i++) {
      const c = await open(d.port);
      if (c.greeting.startsWith('220')) held.push(c);
      else {
        assert.equal(c.greeting, refusal);
        refused++;
        await c.closed;
        await waitFor(() => d.log().split('\n').filter((l) => l.includes('Connection concurrency limit exceeded')).length >= refused, 10_000, 'the warning');
      }
    }
    assert.equal(held.length, 2, 'exactly two connections admitted across both threads');
    assert.deepEqual([...instancesLogging(d, 'Connection concurrency limit exceeded: 3 from localhost[127.0.0.1]')].sort(), (await smtpdThreads(d)).map((t) => t.threadId).sort(), 'each thread refused the 3rd connection');
    // A disconnect on either thread makes room on any thread.
    held.shift()!.close();
    await waitFor(async () => {
      const c = await open(d.port);
      const ok = c.greeting.startsWith('220');
      if (ok) held.push(c);
      else c.close();
      return ok;
    }, 10_000, 'a connection admitted again');
    for (const c of held) c.close();
  } finally {
    await d.stop();
  }
});

test('smtpd_client_message_rate_limit holds across threads: the 3rd MAIL FROM of a client gets 450 on either thread', async () => {
  const d = await startDaemon({ listenerMaxproc: '2', params: { ...LIMITED, smtpd_client_message_rate_limit: '2', anvil_rate_time_unit: '3600s' } });
  try {
    let allowed = 0;
    for (let i = 0; i < 64 && (allowed < 2 || instancesLogging(d, 'Message delivery request rate limit exceeded').size < 2); i++) {
      const c = await open(d.port);
      assert.match(c.greeting, /^220 /);
      assert.match(await c.cmd('EHLO client.test'), /^250/);
      const reply = await c.cmd('MAIL FROM:<s@client.test>');
      if (reply.startsWith('250')) allowed++;
      else assert.equal(reply, '450 4.7.1 Error: too much mail from 127.0.0.1');
      await c.cmd('QUIT');
      await c.closed;
      await waitFor(() => d.log().split('\n').filter((l) => l.includes('disconnect from localhost[127.0.0.1]')).length > i, 10_000, 'the disconnect line');
    }
    assert.equal(allowed, 2, 'two messages across both threads, no more');
    assert.equal(instancesLogging(d, 'Message delivery request rate limit exceeded').size, 2, 'each thread refused past the limit');
  } finally {
    await d.stop();
  }
});

test('reload with two smtpd threads: both are replaced, a session open on an old one finishes, new sessions see the new settings', async () => {
  const d = await startDaemon({ listenerMaxproc: '2', params: { smtpd_banner: '$myhostname ESMTP before-reload' } });
  try {
    const before = (await smtpdThreads(d)).map((t) => t.threadId);
    assert.equal(before.length, 2);
    const old = await open(d.port);
    assert.match(old.greeting, /before-reload/);
    assert.match(await old.cmd('EHLO client.test'), /^250/);
    assert.match(await old.cmd('MAIL FROM:<open@client.test>'), /^250/);
    const mainCf = join(d.configDir, 'main.cf');
    writeFileSync(mainCf, readFileSync(mainCf, 'utf8').replace('before-reload', 'after-reload'));
    const r = await d.cli(['reload']);
    assert.equal(r.code, 0, r.stderr);
    const after = await smtpdThreads(d);
    assert.equal(after.length, 2, 'still two threads');
    assert.ok(after.every((t) => !before.includes(t.threadId)), 'both threads replaced');
    // The old thread drains: its session goes on under the old settings and its message is queued.
    assert.match(await old.cmd('RCPT TO:<open@remote.test>'), /^250/);
    assert.match(await old.cmd('DATA'), /^354/);
    assert.match(await old.cmd('Subject: across reload\r\n\r\nbody\r\n.'), /^250 2\.0\.0 Ok: queued as/);
    assert.match(await old.cmd('QUIT'), /^221/);
    await old.closed;
    // New sessions are served by both new threads (every connect line from here on is theirs) with the new banner.
    const from = d.log().length;
    const servedSince = (): Set<number> => {
      const out = new Set<number>();
      for (const m of d.log().slice(from).matchAll(/\/smtpd\[(\d+)\]: connect from localhost\[127\.0\.0\.1\]/g)) out.add(Number(m[1]));
      return out;
    };
    for (let i = 0; i < 64 && servedSince().size < 2; i++) {
      const c = await open(d.port);
      assert.match(c.greeting, /after-reload/);
      await c.cmd('QUIT');
      await c.closed;
      await waitFor(() => (d.log().slice(from).match(/disconnect from localhost/g) ?? []).length > i, 10_000, 'the disconnect line');
    }
    assert.deepEqual([...servedSince()].sort(), after.map((t) => t.threadId).sort(), 'both new threads serve');
  } finally {
    await d.stop();
  }
});

test('without reusePort (forced) an inet service runs one smtpd thread, and one warning line says so', async () => {
  const d = await startDaemon({ listenerMaxproc: '2', env: { POSTRIDER_TEST_NO_REUSEPORT: '1' } });
  try {
    const threads = await smtpdThreads(d);
    assert.equal(threads.length, 1, 'one smtpd thread');
    const warnings = d.log().split('\n').filter((l) => l.includes('reusePort'));
    assert.equal(warnings.length, 1, warnings.join('\n'));
    assert.match(warnings[0], new RegExp(`postrider/master\\[\\d+\\]: warning: reusePort turned off by POSTRIDER_TEST_NO_REUSEPORT \\(tests only\\): one smtpd thread for each inet service: 127\\.0\\.0\\.1:${d.port} \\(maxproc 2\\)$`));
    const c = await open(d.port);
    assert.match(c.greeting, /^220 /);
    await c.cmd('QUIT');
    await c.closed;
  } finally {
    await d.stop();
  }
});

test('an anvil that hangs does not stall smtpd: clients get through with one warning, and the restarted anvil counts again', async () => {
  const d = await startDaemon({ listenerMaxproc: '2', params: { ...LIMITED, smtpd_client_connection_count_limit: '1', supervisor_busy_timeout: '3s' } });
  const held: Client[] = [];
  try {
    // anvil waits on demand: a first connection starts it (and its rate window keeps it).
    const first = await open(d.port);
    assert.match(first.greeting, /^220 /);
    first.close();
    await first.closed;
    const f = await d.cli(['fault', 'anvil', '1', 'hang']);
    assert.equal(f.code, 0, f.stderr);
    // Over the limit, but nobody can count: both are greeted once smtpd stops waiting for anvil.
    for (let i = 0; i < 2; i++) {
      const c = await open(d.port);
      assert.match(c.greeting, /^220 /);
      held.push(c);
    }
    await waitFor(() => /smtpd\[\d+\]: warning: problem talking to server anvil: .*; client limits are not enforced until it answers/.test(d.log()), 10_000, 'the warning');
    await waitFor(() => /anvil\[1\] restarted in/.test(d.log()), 30_000, 'the anvil restarted by the watchdog');
    // smtpd asks again once its quiet period after the unanswered question is over.
    await new Promise((r) => setTimeout(r, ANVIL_RETRY_MS));
    for (const c of held.splice(0)) {
      c.close();
      await c.closed;
    }
    // The new anvil counts again (the disconnects of connections it never saw change nothing).
    await waitFor(async () => {
      const c = await open(d.port);
      if (c.greeting.startsWith('220')) held.push(c);
      else c.close();
      return held.length > 0;
    }, 10_000, 'a first connection');
    const second = await open(d.port);
    assert.equal(second.greeting, '421 4.7.0 mx.postrider.test Error: too many connections from 127.0.0.1');
  } finally {
    for (const c of held) c.close();
    await d.stop();
  }
});

test('a reload that changes maxproc starts and stops smtpd threads on the address already held', async () => {
  const d = await startDaemon({ listenerMaxproc: '1' });
  try {
    assert.equal((await smtpdThreads(d)).length, 1);
    const masterCf = join(d.configDir, 'master.cf');
    const setMaxproc = (n: string): void => writeFileSync(masterCf, readFileSync(masterCf, 'utf8').replace(/^(127\.0\.0\.1:\d+ inet n - n - )\S+( smtpd)$/m, `$1${n}$2`));
    setMaxproc('3');
    let r = await d.cli(['reload']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await smtpdThreads(d)).length, 3, 'two threads added next to the one holding the port');
    let c = await open(d.port);
    assert.match(c.greeting, /^220 /);
    await c.cmd('QUIT');
    setMaxproc('1');
    r = await d.cli(['reload']);
    assert.equal(r.code, 0, r.stderr);
    assert.equal((await smtpdThreads(d)).length, 1, 'back to one');
    c = await open(d.port);
    assert.match(c.greeting, /^220 /);
    await c.cmd('QUIT');
  } finally {
    await d.stop();
  }
});
