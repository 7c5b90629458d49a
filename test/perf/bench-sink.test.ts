import { test, describe, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { sendMail } from '../helpers/send-mail.js';
import { startBenchSink, findToken, unstuff, type BenchSink, type BenchSinkMessage } from '../../perf/harness/bench-sink.js';
import { parseSinkRule, SinkRuleError, SinkRuleSet } from '../../perf/harness/sink-rules.js';
import { makeTestCert } from '../helpers/tls-cert.js';

/** A raw client that reads whole replies (multi-line ones as one entry). */
class RawClient {
  readonly sock: Socket;
  private buf = '';
  readonly replies: string[] = [];
  closed = false;
  private wake: (() => void) | undefined;

  private constructor(sock: Socket) {
    this.sock = sock;
    sock.setEncoding('latin1');
    sock.on('error', () => undefined);
    sock.on('close', () => {
      this.closed = true;
      this.wake?.();
    });
    let current: string[] = [];
    sock.on('data', (d: string) => {
      this.buf += d;
      let i: number;
      while ((i = this.buf.indexOf('\r\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 2);
        current.push(line);
        if (line[3] !== '-') {
          this.replies.push(current.join('\n'));
          current = [];
        }
      }
      this.wake?.();
    });
  }

  static async open(sink: BenchSink): Promise<RawClient> {
    const sock = connect(sink.port, sink.host);
    sock.setNoDelay(true);
    await new Promise<void>((r) => sock.once('connect', () => r()));
    return new RawClient(sock);
  }

  /** Waits until `n` replies in all have come (or the connection closed). */
  async until(n: number): Promise<string[]> {
    while (this.replies.length < n && !this.closed) await new Promise<void>((r) => { this.wake = r; });
    this.wake = undefined;
    return this.replies;
  }

  async waitClosed(): Promise<void> {
    while (!this.closed) await new Promise<void>((r) => { this.wake = r; });
  }
}

function code(r: string | undefined): string {
  return (r ?? '').slice(0, 3);
}

/** Sends one message with nodemailer's client; returns the final reply. */
async function sendWithNodemailer(sink: BenchSink, raw: string | Buffer, opts: { starttls?: boolean; to?: string[] } = {}): Promise<string> {
  const tls = opts.starttls ? { tls: { rejectUnauthorized: false }, requireTls: true } : {};
  const sent = await sendMail(sink.port, { from: 'sender@client.test', to: opts.to ?? ['rcpt@sink.test'], raw }, { host: sink.host, ...tls });
  return sent.response;
}

describe('parseSinkRule and the rule set', () => {
  test('reads STAGE[@EVERY]:REPLY', () => {
    assert.deepEqual(parseSinkRule('rcpt@10:450 4.2.0 Mailbox busy'), { stage: 'rcpt', every: 10, reply: '450 4.2.0 Mailbox busy' });
    assert.deepEqual(parseSinkRule('dot:554 5.7.1 Rejected'), { stage: 'dot', every: 1, reply: '554 5.7.1 Rejected' });
    assert.deepEqual(parseSinkRule('CONNECT@2:421'), { stage: 'connect', every: 2, reply: '421' });
    // The reply may hold colons of its own.
    assert.equal(parseSinkRule('mail:550 5.7.1 Error: go away').reply, '550 5.7.1 Error: go away');
  });

  test('bad texts give one-line errors that name the problem', () => {
    const bad: Array<[string, RegExp]> = [
      ['rcpt 450 busy', /expected STAGE\[@EVERY\]:REPLY/],
      ['starttls:454 4.7.0 No', /unknown stage "starttls"/],
      ['quit:221 bye', /unknown stage "quit"/],
      ['rcpt@x:450 busy', /EVERY must be a whole number, not "x"/],
      ['rcpt@0:450 busy', /"every" must be a whole number of at least 1/],
      ['rcpt:', /the reply is missing/],
      ['rcpt:hello', /is not an SMTP reply line/],
      ['rcpt:650 nope', /is not an SMTP reply line/],
      ['rcpt:450-busy', /is not an SMTP reply line/],
    ];
    for (const [text, re] of bad) {
      assert.throws(() => parseSinkRule(text), (err: unknown) => {
        assert.ok(err instanceof SinkRuleError);
        assert.equal(err.code, 'ERR_SINK_RULE');
        assert.match(err.message, re);
        assert.ok(!err.message.includes('\n'));
        return true;
      }, text);
    }
  });

  test('every Nth command at the stage, counted per rule; reset starts over', () => {
    const set = new SinkRuleSet([parseSinkRule('rcpt@3:450 busy'), parseSinkRule('rcpt@2:550 no')]);
    const got = Array.from({ length: 6 }, () => set.next('rcpt')?.key ?? '-');
    assert.deepEqual(got, ['-', 'rcpt 550', 'rcpt 450', 'rcpt 550', '-', 'rcpt 450']);
    assert.equal(set.next('mail'), undefined);
    set.reset();
    assert.equal(set.next('rcpt'), undefined);
    assert.equal(new SinkRuleSet([parseSinkRule('mail:421 bye')]).next('mail')?.closes, true);
  });
});

describe('bench sink: the protocol', () => {
  let sink: BenchSink;
  before(async () => {
    sink = await startBenchSink({ hostname: 'sink.example' });
  });
  after(async () => {
    await sink.close();
  });

  test('greets at once and offers the ESMTP extensions', async () => {
    const c = await RawClient.open(sink);
    const [greeting] = await c.until(1);
    assert.match(greeting, /^220 sink\.example /);
    c.sock.write('EHLO me.test\r\n');
    const ehlo = (await c.until(2))[1].split('\n');
    assert.equal(ehlo[0], '250-sink.example');
    for (const k of ['PIPELINING', '8BITMIME', 'SMTPUTF8', 'DSN', 'ENHANCEDSTATUSCODES', 'SIZE']) {
      assert.ok(ehlo.some((l) => l.slice(4) === k), k);
    }
    assert.ok(!ehlo.some((l) => l.includes('STARTTLS')));
    c.sock.write('HELO me.test\r\nNOOP\r\nRSET\r\nQUIT\r\n');
    const r = await c.until(6);
    assert.deepEqual(r.slice(2).map(code), ['250', '250', '250', '221']);
    await c.waitClosed();
  });

  test('bad sequence gives 503, unknown commands 502, bad syntax 501', async () => {
    const c = await RawClient.open(sink);
    c.sock.write('EHLO me\r\nRCPT TO:<a@b>\r\nDATA\r\nVRFY root\r\nMAIL TO:<x>\r\nMAIL FROM:<a@b>\r\nMAIL FROM:<a@b>\r\nRCPT <a@b>\r\nSTARTTLS\r\nQUIT\r\n');
    const r = await c.until(11);
    assert.deepEqual(r.slice(2).map(code), ['503', '503', '502', '501', '250', '503', '501', '502', '221']);
    assert.match(r[2], /need MAIL command/);
    assert.match(r[3], /need RCPT command/);
  });

  test('pipelined commands in one write, the message starting in the same chunk as DATA', async () => {
    sink.reset();
    const got: BenchSinkMessage[] = [];
    sink.onMessage = (m) => got.push(m);
    const c = await RawClient.open(sink);
    const msg = 'X-Bench-Token: pipe.1\r\nSubject: x\r\n\r\nhello\r\n';
    c.sock.write(`EHLO me\r\nMAIL FROM:<s@x>\r\nRCPT TO:<a@y>\r\nRCPT TO:<b@y>\r\nDATA\r\n${msg}.\r\nMAIL FROM:<s@x>\r\nRCPT TO:<c@y>\r\nDATA\r\n${msg}.\r\nQUIT\r\n`);
    const r = await c.until(11);
    sink.onMessage = undefined;
    assert.deepEqual(r.slice(1).map(code), ['250', '250', '250', '250', '354', '250', '250', '250', '354', '250', '221']);
    assert.equal(got.length, 2);
    assert.deepEqual(got[0].to, ['a@y', 'b@y']);
    assert.equal(got[0].from, 's@x');
    assert.equal(got[0].data.toString('latin1'), msg);
    const s = sink.stats();
    assert.equal(s.messages, 2);
    assert.equal(s.recipients, 3);
    assert.equal(s.bytes, 2 * msg.length);
    assert.equal(sink.tokens.get('pipe.1'), 2);
  });

  test('a message sent byte by byte, and the terminator split at every place', async () => {
    const msg = 'X-Bench-Token: split.0\r\n\r\n..dot line\r\nbody\r\n';
    const wire = msg.replace(/^\./gm, '..') + '.\r\n';
    for (const cut of [-1, 1, 2, 3, 4]) {
      sink.reset();
      const got: BenchSinkMessage[] = [];
      sink.onMessage = (m) => got.push(m);
      const c = await RawClient.open(sink);
      c.sock.write('EHLO me\r\nMAIL FROM:<s@x>\r\nRCPT TO:<a@y>\r\nDATA\r\n');
      await c.until(5);
      if (cut < 0) {
        for (const ch of wire) {
          c.sock.write(ch);
          await new Promise((r) => setImmediate(r));
        }
      } else {
        // Cut the final "\r\n.\r\n" `cut` bytes into it.
        const at = wire.length - 5 + cut;
        c.sock.write(wire.slice(0, at));
        await new Promise((r) => setTimeout(r, 5));
        c.sock.write(wire.slice(at));
      }
      const r = await c.until(6);
      sink.onMessage = undefined;
      assert.equal(code(r[5]), '250', `cut ${cut}`);
      assert.equal(got.length, 1);
      assert.equal(got[0].data.toString('latin1'), msg);
      assert.equal(got[0].token, 'split.0');
      assert.equal(sink.stats().bytes, msg.length);
      c.sock.destroy();
    }
  });

  test('an empty message and a message of one empty line', async () => {
    sink.reset();
    const got: BenchSinkMessage[] = [];
    sink.onMessage = (m) => got.push(m);
    const c = await RawClient.open(sink);
    c.sock.write('EHLO me\r\nMAIL FROM:<>\r\nRCPT TO:<a@y>\r\nDATA\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<a@y>\r\nDATA\r\n\r\n.\r\nQUIT\r\n');
    const r = await c.until(11);
    sink.onMessage = undefined;
    assert.equal(code(r[5]), '250');
    assert.equal(code(r[9]), '250');
    assert.deepEqual(got.map((m) => m.data.toString('latin1')), ['', '\r\n']);
    assert.equal(got[0].token, undefined);
    assert.equal(sink.stats().messages, 2);
    assert.equal(sink.tokens.size, 0);
  });

  test('whenAll: false at the timeout, true once the expected messages came; reset zeroes', async () => {
    const s2 = await startBenchSink({ expect: 2 });
    try {
      assert.equal(await s2.whenAll(30), false);
      const c = await RawClient.open(s2);
      const waiting = s2.whenAll(10_000);
      c.sock.write('EHLO me\r\nMAIL FROM:<>\r\nRCPT TO:<a@y>\r\nDATA\r\nX-Bench-Token: w.1\r\n\r\nx\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<a@y>\r\nDATA\r\nx-bench-token:w.2\r\n\r\nx\r\n.\r\n');
      assert.equal(await waiting, true);
      assert.deepEqual([...s2.tokens.keys()].sort(), ['w.1', 'w.2']);
      const st = s2.stats();
      assert.ok(st.firstAt !== undefined && st.lastAt !== undefined && st.lastAt >= st.firstAt);
      s2.reset();
      assert.deepEqual(s2.stats(), { connections: 0, messages: 0, recipients: 0, bytes: 0, scripted: {} });
      assert.equal(s2.tokens.size, 0);
      c.sock.destroy();
    } finally {
      await s2.close();
    }
    const s3 = await startBenchSink();
    assert.equal(await s3.whenAll(10), true);
    await s3.close();
  });

  test('findToken and unstuff', () => {
    assert.equal(findToken(Buffer.from('A: b\r\nX-Bench-Token:  r.5 \r\n\r\nX-Bench-Token: body\r\n')), 'r.5');
    assert.equal(findToken(Buffer.from('A: b\r\n\r\nX-Bench-Token: body\r\n')), undefined);
    assert.equal(findToken(Buffer.from('A: X-Bench-Token: no\r\n\r\n')), undefined);
    assert.equal(findToken(Buffer.from('X-BENCH-TOKEN: up.1\r\n\r\n')), 'up.1');
    assert.equal(unstuff(Buffer.from('..a\r\n..\r\nb\r\n...c\r\n')).toString(), '.a\r\n.\r\nb\r\n..c\r\n');
    const plain = Buffer.from('abc\r\n');
    assert.equal(unstuff(plain), plain);
  });
});

describe('bench sink: scripted replies', () => {
  test('helo, mail, data rules; a 421 closes; counts by stage and code', async () => {
    const sink = await startBenchSink({
      rules: [parseSinkRule('helo@2:554 5.7.1 No hello'), parseSinkRule('mail@2:451 4.3.0 Later'), parseSinkRule('data:421 4.3.2 Bye')],
    });
    try {
      const c = await RawClient.open(sink);
      c.sock.write('EHLO a\r\nEHLO b\r\nMAIL FROM:<x@y>\r\nMAIL FROM:<x@y>\r\nRSET\r\nMAIL FROM:<x@y>\r\nMAIL FROM:<x@y>\r\nRCPT TO:<z@y>\r\nDATA\r\nNOOP\r\n');
      await c.waitClosed();
      assert.deepEqual(c.replies.slice(1).map(code), ['250', '554', '250', '503', '250', '451', '250', '250', '421']);
      assert.deepEqual(sink.stats().scripted, { 'helo 554': 1, 'mail 451': 1, 'data 421': 1 });
      assert.equal(sink.stats().messages, 0);
    } finally {
      await sink.close();
    }
  });

  test('a 4xx greeting keeps the connection but refuses commands; 554 and 421 greetings close', async () => {
    const sink = await startBenchSink({ rules: [parseSinkRule('connect@2:450 4.3.2 Busy'), parseSinkRule('connect@3:554 5.3.2 No')] });
    try {
      const first = await RawClient.open(sink);
      assert.equal(code((await first.until(1))[0]), '220');
      first.sock.destroy();
      const second = await RawClient.open(sink);
      assert.equal(code((await second.until(1))[0]), '450');
      second.sock.write('EHLO x\r\nQUIT\r\n');
      const r = await second.until(3);
      assert.deepEqual(r.map(code), ['450', '503', '221']);
      const third = await RawClient.open(sink);
      await third.waitClosed();
      assert.deepEqual(third.replies.map(code), ['554']);
      assert.deepEqual(sink.stats().scripted, { 'connect 450': 1, 'connect 554': 1 });
    } finally {
      await sink.close();
    }
  });

  test('storeDir: each message written as TOKEN.eml (or a number) before the 250', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'bench-sink-'));
    const sink = await startBenchSink({ storeDir: dir });
    try {
      const c = await RawClient.open(sink);
      const a = 'X-Bench-Token: st.1\r\n\r\n..dotted\r\n';
      c.sock.write(`EHLO me\r\nMAIL FROM:<>\r\nRCPT TO:<a@y>\r\nDATA\r\n${a}.\r\nMAIL FROM:<>\r\nRCPT TO:<a@y>\r\nDATA\r\nNo: token\r\n\r\nx\r\n.\r\nMAIL FROM:<>\r\nRCPT TO:<a@y>\r\nDATA\r\nX-Bench-Token: ../evil\r\n\r\n.\r\nNOOP\r\n`);
      const r = await c.until(15);
      assert.deepEqual(r.map(code), ['220', '250', '250', '250', '354', '250', '250', '250', '354', '250', '250', '250', '354', '250', '250']);
      const files = (await readdir(dir)).sort();
      assert.deepEqual(files, ['2.eml', '3.eml', 'st.1.eml']);
      assert.equal(await readFile(join(dir, 'st.1.eml'), 'latin1'), 'X-Bench-Token: st.1\r\n\r\n.dotted\r\n');
      assert.equal(await readFile(join(dir, '2.eml'), 'latin1'), 'No: token\r\n\r\nx\r\n');
      assert.equal(sink.stats().messages, 3);
      c.sock.destroy();
    } finally {
      await sink.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});

describe('bench sink with nodemailer\'s SMTP client', () => {
  test('STARTTLS and PIPELINING: the message is delivered and counted; EHLO after TLS drops STARTTLS', async () => {
    const cert = makeTestCert('localhost');
    const sink = await startBenchSink({ tls: { cert: cert.cert, key: cert.key } });
    try {
      const got: BenchSinkMessage[] = [];
      sink.onMessage = (m) => got.push(m);
      const raw = 'From: a@b\r\nX-Bench-Token: nm.1\r\nSubject: hi\r\n\r\nbody line\r\n';
      const resp = await sendWithNodemailer(sink, raw, { starttls: true, to: ['x@sink.test', 'y@sink.test'] });
      assert.match(resp, /^250 2\.0\.0 Ok/);
      assert.equal(got.length, 1);
      assert.equal(got[0].secure, true);
      assert.deepEqual(got[0].to, ['x@sink.test', 'y@sink.test']);
      assert.equal(got[0].data.toString('latin1'), raw);
      assert.equal(sink.tokens.get('nm.1'), 1);
      assert.equal(sink.stats().recipients, 2);

      // A raw look at the EHLO after TLS.
      const c = await RawClient.open(sink);
      c.sock.write('EHLO me\r\n');
      const ehlo = (await c.until(2))[1];
      assert.ok(ehlo.includes('250-STARTTLS'));
      c.sock.write('STARTTLS\r\n');
      assert.equal(code((await c.until(3))[2]), '220');
      c.sock.removeAllListeners('data');
      const { connect: tlsConnect } = await import('node:tls');
      const secure = tlsConnect({ socket: c.sock, rejectUnauthorized: false });
      secure.on('error', () => undefined);
      await new Promise<void>((r) => secure.once('secureConnect', () => r()));
      secure.setEncoding('latin1');
      let text = '';
      secure.on('data', (d: string) => { text += d; });
      secure.write('EHLO me\r\n');
      while (!text.includes('250 ')) await new Promise((r) => setTimeout(r, 5));
      assert.ok(text.includes('PIPELINING') && !text.includes('STARTTLS'));
      secure.write('STARTTLS\r\n');
      while (!text.includes('554 ')) await new Promise((r) => setTimeout(r, 5));
      secure.destroy();
    } finally {
      await sink.close();
    }
  });

  test('dot-stuffing round trip: lines starting with dots arrive as sent', async () => {
    const sink = await startBenchSink();
    try {
      const got: BenchSinkMessage[] = [];
      sink.onMessage = (m) => got.push(m);
      const raw = 'X-Bench-Token: dots.1\r\n\r\n.\r\n..\r\n.leading\r\nmid.dle\r\n.\r\nend\r\n';
      const resp = await sendWithNodemailer(sink, raw);
      assert.match(resp, /^250 /);
      assert.equal(got[0].data.toString('latin1'), raw);
      assert.equal(sink.stats().bytes, raw.length);
      assert.equal(sink.tokens.get('dots.1'), 1);
    } finally {
      await sink.close();
    }
  });
});

describe('bench sink: hostile input', () => {
  let sink: BenchSink;
  before(async () => {
    sink = await startBenchSink();
  });
  after(async () => {
    await sink.close();
  });

  async function stillServes(): Promise<void> {
    const c = await RawClient.open(sink);
    c.sock.write('EHLO me\r\nMAIL FROM:<>\r\nRCPT TO:<a@y>\r\nDATA\r\nX-Bench-Token: ok.1\r\n\r\nx\r\n.\r\nQUIT\r\n');
    const r = await c.until(7);
    assert.equal(code(r[5]), '250');
  }

  test('garbage gets 500/502 replies, and too many errors end the session with 421', async () => {
    const c = await RawClient.open(sink);
    c.sock.write(Buffer.from([0x00, 0xff, 0xfe, 0x0d, 0x0a, 0x0d, 0x0a, 0x80, 0x81, 0x20, 0x0a]));
    const r = await c.until(4);
    assert.deepEqual(r.slice(1).map(code), ['502', '500', '502']);
    c.sock.write('junk\r\n'.repeat(30));
    await c.waitClosed();
    assert.match(c.replies[c.replies.length - 1], /421 4\.7\.0 .*too many errors/);
    await stillServes();
  });

  test('a line over 64 KiB without CRLF: 500 and close', async () => {
    const c = await RawClient.open(sink);
    c.sock.write('EHLO ' + 'x'.repeat(70 * 1024));
    await c.waitClosed();
    assert.match(c.replies[c.replies.length - 1], /^500 5\.5\.0 .*line too long/);
    await stillServes();
  });

  test('a reset in the middle of DATA', async () => {
    sink.reset();
    const c = await RawClient.open(sink);
    c.sock.write('EHLO me\r\nMAIL FROM:<>\r\nRCPT TO:<a@y>\r\nDATA\r\n');
    await c.until(5);
    c.sock.write('X-Bench-Token: half.1\r\n\r\n' + 'y'.repeat(10_000));
    await new Promise((r) => setTimeout(r, 10));
    c.sock.resetAndDestroy();
    await stillServes();
    assert.equal(sink.tokens.has('half.1'), false);
    assert.equal(sink.stats().messages, 1);
  });

  test('a client that closes at once, and one that sends only a partial line', async () => {
    const a = await RawClient.open(sink);
    a.sock.destroy();
    const b = await RawClient.open(sink);
    b.sock.end('MAIL FR');
    await b.waitClosed().catch(() => undefined);
    await stillServes();
  });
});
