import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server, type Socket } from 'node:net';
import { startBenchSink, type BenchSink, type BenchSinkMessage } from '../../perf/harness/bench-sink.js';
import { runSource, makeMessageFactory, SourceOptionsError } from '../../perf/harness/smtp-source.js';
import { SourceConnection } from '../../perf/harness/source-connection.js';
import { accountTokens } from '../../perf/harness/token-account.js';
import { parseSinkRule } from '../../perf/harness/sink-rules.js';
import { makeTestCert, type TestCert } from '../helpers/tls-cert.js';
import { startSmtpSink } from '../helpers/smtp-sink.js';

/** Collects what the sink took. */
function collect(sink: BenchSink): BenchSinkMessage[] {
  const got: BenchSinkMessage[] = [];
  sink.onMessage = (m) => got.push({ ...m, to: [...m.to] });
  return got;
}

function eachTokenOnce(sink: BenchSink, runId: string, count: number): void {
  assert.equal(sink.tokens.size, count);
  for (let n = 0; n < count; n++) assert.equal(sink.tokens.get(`${runId}.${n}`), 1, `token ${runId}.${n}`);
}

/** A tiny server that runs `onLine` for each line it receives. */
async function rawServer(onLine: (sock: Socket, line: string, state: { mails: number }) => void, greet = true): Promise<{ port: number; state: { mails: number }; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const state = { mails: 0 };
  const server: Server = createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => sock.destroy());
    if (greet) sock.write('220 raw ESMTP\r\n');
    let buf = '';
    sock.setEncoding('latin1');
    sock.on('data', (d: string) => {
      buf += d;
      let i: number;
      while ((i = buf.indexOf('\r\n')) >= 0 && !sock.destroyed) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        onLine(sock, line, state);
      }
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as { port: number }).port,
    state,
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

describe('smtp-source against the bench sink', () => {
  let sink: BenchSink;
  before(async () => {
    sink = await startBenchSink();
  });
  after(async () => {
    await sink.close();
  });

  test('kept connections, several sessions: every message taken once, sizes exact', async () => {
    sink.reset();
    const got = collect(sink);
    const r = await runSource({ host: sink.host, port: sink.port, count: 30, sessions: 3, size: 1000, runId: 'kept' });
    sink.onMessage = undefined;
    assert.equal(r.runId, 'kept');
    assert.deepEqual(r.errors, []);
    assert.equal(r.accepted.length, 30);
    assert.equal(r.connections, 3);
    const s = sink.stats();
    assert.equal(s.messages, 30);
    assert.equal(s.connections, 3);
    assert.equal(s.recipients, 30);
    assert.equal(s.bytes, 30 * 1000);
    eachTokenOnce(sink, 'kept', 30);
    for (const m of got) {
      assert.equal(m.data.length, 1000);
      assert.deepEqual(m.to, ['sink@bench.test']);
      assert.equal(m.from, 'source@bench.test');
      const text = m.data.toString('latin1');
      const headerEnd = text.indexOf('\r\n\r\n');
      const head = text.slice(0, headerEnd);
      for (const h of ['From: ', 'To: ', 'Subject: ', 'Date: ', 'Message-ID: ', 'X-Bench-Token: ']) assert.ok(head.includes('\r\n' + h) || head.startsWith(h), `header ${h}`);
      assert.ok(head.includes(`X-Bench-Token: ${m.token}`));
      for (const line of text.slice(headerEnd + 4).split('\r\n').slice(0, -1)) {
        assert.ok(line.length <= 78, 'body lines of at most 78 characters');
        assert.ok(/^[\x20-\x7e]*$/.test(line), 'printable body');
      }
      assert.ok(text.endsWith('\r\n'));
    }
    const a = accountTokens(r.accepted.map((x) => x.token), sink.tokens);
    assert.deepEqual([a.lost, a.duplicated, a.unexpected], [[], [], []]);
    for (const x of r.accepted) {
      assert.ok(x.latencyMs >= 0 && x.at >= x.latencyMs);
    }
    assert.ok(r.elapsedMs >= r.accepted[r.accepted.length - 1].at - 0.001);
  });

  test('one message per connection: N connections on both sides', async () => {
    sink.reset();
    const r = await runSource({ host: sink.host, port: sink.port, count: 15, sessions: 4, size: 600, messagesPerConnection: 1, runId: 'per' });
    assert.deepEqual(r.errors, []);
    assert.equal(r.accepted.length, 15);
    assert.equal(r.connections, 15);
    assert.equal(sink.stats().connections, 15);
    assert.equal(sink.stats().bytes, 15 * 600);
    eachTokenOnce(sink, 'per', 15);
  });

  test('--rate paces the offered load: message N does not start before N / rate seconds', async () => {
    sink.reset();
    const r = await runSource({ host: sink.host, port: sink.port, count: 12, sessions: 4, size: 500, rate: 100, runId: 'paced' });
    assert.deepEqual(r.errors, []);
    assert.equal(r.accepted.length, 12);
    for (const a of r.accepted) {
      const n = Number(a.token.split('.')[1]);
      // The MAIL of message n is sent at or after its slot (n * 10 ms), never before.
      assert.ok(a.at - a.latencyMs >= n * 10 - 1, `message ${n} started at ${(a.at - a.latencyMs).toFixed(1)} ms`);
    }
    assert.ok(r.elapsedMs >= 110 - 1, 'the last of 12 messages at 100/s starts at 110 ms or later');
    await assert.rejects(runSource({ host: sink.host, port: sink.port, count: 1, sessions: 1, size: 10, rate: 0 }), /rate must be a whole number/);
  });

  test('several messages per connection, then a new connection for the rest', async () => {
    sink.reset();
    const r = await runSource({ host: sink.host, port: sink.port, count: 12, sessions: 1, size: 500, messagesPerConnection: 5 });
    assert.equal(r.accepted.length, 12);
    assert.equal(r.connections, 3);
    assert.equal(sink.stats().connections, 3);
  });

  test('R recipients per message; unique recipients give distinct addresses', async () => {
    sink.reset();
    let got = collect(sink);
    let r = await runSource({ host: sink.host, port: sink.port, count: 6, sessions: 2, size: 800, recipients: 3, to: 'user@example.test' });
    assert.equal(r.accepted.length, 6);
    assert.equal(sink.stats().recipients, 18);
    assert.ok(got.every((m) => m.to.length === 3 && new Set(m.to).size === 3));
    sink.reset();
    got = collect(sink);
    r = await runSource({ host: sink.host, port: sink.port, count: 6, sessions: 2, size: 800, recipients: 3, uniqueRecipients: true, to: 'user@example.test', runId: 'u' });
    sink.onMessage = undefined;
    assert.equal(r.accepted.length, 6);
    const all = got.flatMap((m) => m.to);
    assert.equal(all.length, 18);
    assert.equal(new Set(all).size, 18);
    const of2 = got.find((m) => m.token === 'u.2')!;
    assert.deepEqual(of2.to, ['2.0.user@example.test', '2.1.user@example.test', '2.2.user@example.test']);
  });

  test('sizes are exact for small and large messages; below the headers, the headers alone', async () => {
    for (const size of [1024, 65_536, 381, 461]) {
      sink.reset();
      const got = collect(sink);
      const r = await runSource({ host: sink.host, port: sink.port, count: 4, sessions: 2, size });
      assert.equal(r.accepted.length, 4);
      assert.equal(sink.stats().bytes, 4 * size, `size ${size}`);
      assert.ok(got.every((m) => m.data.length === size));
    }
    sink.reset();
    const got = collect(sink);
    await runSource({ host: sink.host, port: sink.port, count: 2, sessions: 1, size: 10 });
    sink.onMessage = undefined;
    assert.equal(got.length, 2);
    for (const m of got) {
      assert.ok(m.data.length > 10);
      assert.ok(m.data.toString('latin1').endsWith('\r\n\r\n'));
      assert.ok(m.token);
    }
  });

  test('the message factory gives exactly size bytes for every size and token length', () => {
    for (let size = 220; size < 560; size++) {
      const build = makeMessageFactory({ size, from: 'a@b.test', to: 'c@d.test', runId: 'abcd1234', helo: 'h.test' });
      for (const n of [0, 7, 42, 999, 12_345, 1_000_000]) {
        const c = build(n);
        const text = c.head + c.tail!.toString('latin1');
        assert.ok(text.endsWith('\r\n.\r\n'));
        assert.equal(text.length - 3, size, `size ${size} n ${n}`);
        const body = text.slice(text.indexOf('\r\n\r\n') + 4, -3);
        for (const line of body.split('\r\n').slice(0, -1)) assert.ok(line.length <= 78 && !line.startsWith('.'));
      }
    }
  });

  test('STARTTLS: the generator upgrades when asked, and stays plain when not', async () => {
    const cert: TestCert = makeTestCert('localhost');
    const tlsSink = await startBenchSink({ tls: { cert: cert.cert, key: cert.key } });
    try {
      let got = collect(tlsSink);
      let r = await runSource({ host: tlsSink.host, port: tlsSink.port, count: 6, sessions: 2, size: 700, starttls: true, runId: 't' });
      assert.deepEqual(r.errors, []);
      assert.equal(r.accepted.length, 6);
      assert.ok(got.length === 6 && got.every((m) => m.secure));
      eachTokenOnce(tlsSink, 't', 6);
      tlsSink.reset();
      got = collect(tlsSink);
      r = await runSource({ host: tlsSink.host, port: tlsSink.port, count: 3, sessions: 1, size: 700, messagesPerConnection: 1, starttls: false });
      assert.equal(r.accepted.length, 3);
      assert.ok(got.length === 3 && got.every((m) => !m.secure));
    } finally {
      await tlsSink.close();
    }
    // Asked for STARTTLS by a server that does not offer it: refused at stage starttls, the session gives up.
    sink.reset();
    const r = await runSource({ host: sink.host, port: sink.port, count: 3, sessions: 1, size: 500, starttls: true });
    assert.equal(r.accepted.length, 0);
    const st = r.errors.filter((e) => e.stage === 'starttls');
    assert.equal(st.length, 6);
    assert.ok(st[0].reply.startsWith('502 '));
    assert.match(st[5].reply, /^000 session given up/);
    assert.equal(sink.stats().messages, 0);
  });
});

describe('smtp-source against scripted refusals', () => {
  test('rcpt@3:450 refuses every third recipient: those messages are not sent, the rest are', async () => {
    const sink = await startBenchSink({ rules: [parseSinkRule('rcpt@3:450 4.2.0 Mailbox busy')] });
    try {
      const r = await runSource({ host: sink.host, port: sink.port, count: 12, sessions: 2, size: 600, runId: 'r' });
      const rcpt = r.errors.filter((e) => e.stage === 'rcpt');
      assert.equal(rcpt.length, 4);
      assert.equal(r.errors.length, 4);
      assert.ok(rcpt.every((e) => e.reply === '450 4.2.0 Mailbox busy' && e.token?.startsWith('r.')));
      assert.equal(r.accepted.length, 8);
      assert.deepEqual(sink.stats().scripted, { 'rcpt 450': 4 });
      assert.equal(sink.stats().messages, 8);
      const a = accountTokens(r.accepted.map((x) => x.token), sink.tokens);
      assert.deepEqual([a.lost, a.duplicated, a.unexpected], [[], [], []]);
      // The refused messages' tokens never reached the sink, and each refused message was tried once.
      for (const e of rcpt) assert.equal(sink.tokens.has(e.token!), false);
      assert.equal(new Set(rcpt.map((e) => e.token)).size, 4);
    } finally {
      await sink.close();
    }
  });

  test('a refused recipient of several: the message still goes to the others', async () => {
    const sink = await startBenchSink({ rules: [parseSinkRule('rcpt@2:550 5.1.1 No such user')] });
    try {
      const r = await runSource({ host: sink.host, port: sink.port, count: 5, sessions: 1, size: 600, recipients: 2 });
      assert.equal(r.accepted.length, 5);
      assert.equal(r.errors.filter((e) => e.stage === 'rcpt').length, 5);
      assert.equal(sink.stats().recipients, 5);
      assert.equal(sink.stats().messages, 5);
    } finally {
      await sink.close();
    }
  });

  test('dot@4:554: a quarter not accepted, their tokens absent from the sink, no loss', async () => {
    const sink = await startBenchSink({ rules: [parseSinkRule('dot@4:554 5.7.1 Rejected')] });
    try {
      const r = await runSource({ host: sink.host, port: sink.port, count: 20, sessions: 3, size: 900, runId: 'd' });
      const dot = r.errors.filter((e) => e.stage === 'dot');
      assert.equal(dot.length, 5);
      assert.ok(dot.every((e) => e.reply === '554 5.7.1 Rejected'));
      assert.equal(r.accepted.length, 15);
      assert.equal(sink.stats().messages, 15);
      assert.equal(sink.stats().bytes, 15 * 900);
      assert.deepEqual(sink.stats().scripted, { 'dot 554': 5 });
      for (const e of dot) assert.equal(sink.tokens.has(e.token!), false);
      const a = accountTokens(r.accepted.map((x) => x.token), sink.tokens);
      assert.deepEqual(a, { accepted: 15, delivered: 15, lost: [], duplicated: [], unexpected: [] });
    } finally {
      await sink.close();
    }
  });

  test('a 421 at MAIL ends the connection; the session reconnects and completes the rest', async () => {
    const sink = await startBenchSink({ rules: [parseSinkRule('mail@5:421 4.3.2 Service shutting down')] });
    try {
      const r = await runSource({ host: sink.host, port: sink.port, count: 20, sessions: 2, size: 500, runId: 'q' });
      const mail = r.errors.filter((e) => e.stage === 'mail');
      assert.equal(mail.length, 4);
      assert.ok(mail.every((e) => e.reply.startsWith('421 4.3.2')));
      assert.equal(r.errors.length, 4);
      assert.equal(r.accepted.length, 16);
      // Two sessions, plus a new connection after each 421 but the last (the 20th MAIL is the last message).
      assert.equal(r.connections, 5);
      assert.equal(sink.stats().connections, 5);
      assert.equal(sink.stats().messages, 16);
      const a = accountTokens(r.accepted.map((x) => x.token), sink.tokens);
      assert.deepEqual([a.lost, a.duplicated, a.unexpected], [[], [], []]);
    } finally {
      await sink.close();
    }
  });

  test('a 554 greeting on every other connection: refused greetings recorded, every message sent', async () => {
    const sink = await startBenchSink({ rules: [parseSinkRule('connect@2:554 5.3.2 No service')] });
    try {
      const r = await runSource({ host: sink.host, port: sink.port, count: 6, sessions: 1, size: 500, messagesPerConnection: 1 });
      assert.equal(r.accepted.length, 6);
      const refused = r.errors.filter((e) => e.stage === 'connect');
      assert.equal(refused.length, 5);
      assert.ok(refused.every((e) => e.reply === '554 5.3.2 No service' && e.token === undefined));
      assert.equal(r.connections, 11);
      assert.deepEqual(sink.stats().scripted, { 'connect 554': 5 });
    } finally {
      await sink.close();
    }
  });

  test('a server that always refuses the greeting: the session gives up after 5 tries', async () => {
    const sink = await startBenchSink({ rules: [parseSinkRule('connect:421 4.3.2 Go away')] });
    try {
      const r = await runSource({ host: sink.host, port: sink.port, count: 3, sessions: 1, size: 500 });
      assert.equal(r.accepted.length, 0);
      assert.equal(r.errors.length, 6);
      assert.match(r.errors[5].reply, /^000 session given up after 5/);
      assert.equal(sink.stats().connections, 5);
    } finally {
      await sink.close();
    }
  });

  test('connection refused: five connect errors "000 ...", then the session gives up', async () => {
    const s = createServer();
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
    const port = (s.address() as { port: number }).port;
    await new Promise<void>((r) => s.close(() => r()));
    const r = await runSource({ host: '127.0.0.1', port, count: 4, sessions: 2, size: 500 });
    assert.equal(r.accepted.length, 0);
    assert.equal(r.connections, 0);
    assert.equal(r.errors.length, 12);
    assert.ok(r.errors.every((e) => e.stage === 'connect' && e.reply.startsWith('000 ')));
  });
});

describe('smtp-source against misbehaving servers', () => {
  test('a server that closes at DATA: each message fails once ("000"), never sent twice, the session reconnects', async () => {
    const srv = await rawServer((sock, line, state) => {
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === 'EHLO') sock.write('250-raw\r\n250 PIPELINING\r\n');
      else if (verb === 'MAIL') state.mails++;
      else if (verb === 'DATA') sock.destroy();
    });
    try {
      const r = await runSource({ host: '127.0.0.1', port: srv.port, count: 3, sessions: 1, size: 500, runId: 'c' });
      assert.equal(r.accepted.length, 0);
      assert.equal(r.connections, 3);
      assert.equal(srv.state.mails, 3);
      assert.deepEqual(r.errors.map((e) => e.token), ['c.0', 'c.1', 'c.2']);
      assert.ok(r.errors.every((e) => e.reply.startsWith('000 ')));
    } finally {
      await srv.close();
    }
  });

  test('a silent server: the reply timeout ends the connection', async () => {
    const srv = await rawServer(() => undefined);
    try {
      const r = await runSource({ host: '127.0.0.1', port: srv.port, count: 1, sessions: 1, size: 500, replyTimeoutMs: 150 });
      assert.equal(r.accepted.length, 0);
      assert.equal(r.errors.filter((e) => e.stage === 'helo' && e.reply === '000 timeout waiting for a reply').length, 5);
    } finally {
      await srv.close();
    }
  });

  test('a server that says 220 to STARTTLS and then nothing: the handshake times out at stage starttls', async () => {
    const srv = await rawServer((sock, line) => {
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === 'EHLO') sock.write('250-raw\r\n250 STARTTLS\r\n');
      else if (line.toUpperCase() === 'STARTTLS') sock.write('220 go ahead\r\n');
    });
    try {
      const r = await runSource({ host: '127.0.0.1', port: srv.port, count: 1, sessions: 1, size: 500, starttls: true, replyTimeoutMs: 150 });
      assert.equal(r.accepted.length, 0);
      const st = r.errors.filter((e) => e.stage === 'starttls');
      assert.equal(st.length, 6);
      assert.equal(st[0].reply, '000 TLS handshake failed: timeout');
    } finally {
      await srv.close();
    }
  });

  test('EHLO refused with 5xx: HELO, then one command at a time without PIPELINING', async () => {
    const lines: string[] = [];
    const srv = await rawServer((sock, line) => {
      lines.push(line);
      const verb = line.slice(0, 4).toUpperCase();
      if (verb === 'EHLO') sock.write('502 5.5.2 Error: command not recognized\r\n');
      else if (verb === 'HELO') sock.write('250 raw\r\n');
      else if (verb === 'DATA') sock.write('354 go\r\n');
      else if (line === '.') sock.write('250-2.0.0 Ok\r\n250 2.0.0 queued\r\n');
      else if (verb === 'QUIT') sock.end('221 Bye\r\n');
      else if (verb === 'MAIL' || verb === 'RCPT') sock.write('250 Ok\r\n');
    });
    try {
      const r = await runSource({ host: '127.0.0.1', port: srv.port, count: 2, sessions: 1, size: 400 });
      assert.deepEqual(r.errors, []);
      assert.equal(r.accepted.length, 2);
      assert.equal(lines[1].startsWith('HELO '), true);
      assert.equal(lines.filter((l) => l.startsWith('X-Bench-Token: ')).length, 2);
    } finally {
      await srv.close();
    }
  });

  test('without PIPELINING (a conforming server that hides it), with progress reports', async () => {
    const helper = await startSmtpSink({ pipelining: false });
    try {
      const progress: number[] = [];
      // The helper server waits about 100 ms before each greeting: four connections outlast a progress tick.
      const r = await runSource({
        host: helper.host, port: helper.port, count: 4, sessions: 1, size: 700, recipients: 2, messagesPerConnection: 1,
        onProgress: (p) => progress.push(p.accepted),
      });
      assert.deepEqual(r.errors, []);
      assert.equal(r.accepted.length, 4);
      assert.equal(helper.messages.length, 4);
      assert.ok(helper.messages.every((m) => m.raw.length === 700 && m.rcptTo.length === 2));
      assert.ok(progress.length >= 1);
      assert.deepEqual(progress, [...progress].sort((a, b) => a - b));
    } finally {
      await helper.close();
    }
  });

  test('bad options are refused with a one-line error', async () => {
    await assert.rejects(runSource({ host: '127.0.0.1', port: 25, count: -1, sessions: 1, size: 10 }), SourceOptionsError);
    await assert.rejects(runSource({ host: '127.0.0.1', port: 25, count: 1, sessions: 0, size: 10 }), /sessions must be a whole number/);
    await assert.rejects(runSource({ host: '127.0.0.1', port: 25, count: 1, sessions: 1, size: 10, to: 'a b@c' }), /to "a b@c"/);
  });
});

describe('token accounting through the sink', () => {
  test('the same token sent twice shows up as duplicated', async () => {
    const sink = await startBenchSink();
    try {
      const build = makeMessageFactory({ size: 500, from: 'a@b.test', to: 'c@d.test', runId: 'dup', helo: 'h.test' });
      const c = await SourceConnection.open(sink.host, sink.port);
      assert.deepEqual(await c.hello('h.test'), { ok: true });
      assert.equal(c.pipelining, true);
      const accepted: string[] = [];
      for (const n of [0, 1, 1]) {
        const o = await c.sendMessage('a@b.test', ['c@d.test'], build(n));
        assert.equal(o.accepted, true);
        accepted.push(`dup.${n}`);
      }
      await c.quit();
      const a = accountTokens(accepted, sink.tokens);
      assert.deepEqual(a.duplicated, ['dup.1']);
      assert.deepEqual(a.lost, []);
      assert.equal(a.delivered, 2);
    } finally {
      await sink.close();
    }
  });

  test('a message the sink took whose 250 the client never read shows up as unexpected', async () => {
    const sink = await startBenchSink({ expect: 1 });
    try {
      const build = makeMessageFactory({ size: 500, from: 'a@b.test', to: 'c@d.test', runId: 'lostack', helo: 'h.test' });
      const c = build(7);
      const sock: Socket = connect(sink.port, sink.host);
      sock.on('error', () => undefined);
      await new Promise<void>((r) => sock.once('connect', () => r()));
      // Everything at once, then gone before the replies: the 250 after the dot is never read.
      sock.end(Buffer.concat([Buffer.from('EHLO x\r\nMAIL FROM:<a@b.test>\r\nRCPT TO:<c@d.test>\r\nDATA\r\n' + c.head, 'latin1'), c.tail!]));
      assert.equal(await sink.whenAll(10_000), true);
      const a = accountTokens([], sink.tokens);
      assert.deepEqual(a.unexpected, ['lostack.7']);
    } finally {
      await sink.close();
    }
  });
});
