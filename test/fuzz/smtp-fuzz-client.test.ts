/**
 * smtp-fuzz-client: the per-case oracles fire when a server misbehaves and
 * stay quiet when it does not. The servers here are small raw SMTP servers
 * on loopback, scripted to break one rule each; the fuzzer must name it.
 */
import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { runFuzzCase, type CaseOutcome } from '../../perf/fuzz/smtp-fuzz-client.js';
import { lineCount, type FuzzCase, type Step, type Transport } from '../../perf/fuzz/smtp-fuzz-case.js';

type Answer = (line: string) => string | string[] | null;

const servers: Server[] = [];
after(() => {
  for (const s of servers) s.close();
});

/**
 * A server that greets, then answers each command line with `answer`
 * (null: the default), takes DATA content up to "." and answers
 * "250 2.0.0 Ok: queued as Q1", and closes after 221.
 */
async function server(answer: Answer = () => null): Promise<number> {
  const s = createServer((sock: Socket) => {
    sock.on('error', () => undefined);
    let buf = '';
    let inData = false;
    sock.write('220 mx.test ESMTP\r\n');
    sock.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl).replace(/\r$/, '');
        buf = buf.slice(nl + 1);
        if (inData) {
          if (line === '.') {
            inData = false;
            sock.write('250 2.0.0 Ok: queued as Q1\r\n');
          }
          continue;
        }
        const custom = answer(line);
        const verb = line.split(' ')[0].toUpperCase();
        const reply = custom ?? (verb === 'DATA' ? '354 go ahead' : verb === 'QUIT' ? '221 2.0.0 Bye' : verb === 'EHLO' ? ['250-mx.test', '250 PIPELINING'] : '250 2.0.0 Ok');
        const lines = Array.isArray(reply) ? reply : [reply];
        if (lines.length === 0) continue;
        sock.write(lines.map((l) => l + '\r\n').join(''));
        if (verb === 'DATA' && lines[0].startsWith('354')) inData = true;
        if (lines[0].startsWith('221')) sock.end();
      }
    });
  });
  servers.push(s);
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  return (s.address() as { port: number }).port;
}

function line(label: string, text: string, extra: Partial<Step> = {}): Step {
  const bytes = Buffer.from(text + '\r\n', 'latin1');
  return { kind: 'line', label, bytes, replies: lineCount(bytes), ...extra };
}

function body(token: string, size = 30): Step {
  return { kind: 'data', label: 'body', bytes: Buffer.from(`X-Fuzz-Token: ${token}\r\n\r\nhello\r\n.\r\n`, 'latin1'), replies: 1, token, size };
}

function fuzzCase(steps: Step[], transport: Transport = 'lockstep'): FuzzCase {
  return { seed: 1, listener: 'relay', transport, early: false, steps, ending: 'quit', splitSeed: 7 };
}

async function play(port: number, c: FuzzCase, limits = { recipientLimit: 3, messageSizeLimit: 1000 }): Promise<CaseOutcome> {
  return runFuzzCase(c, { host: '127.0.0.1', ports: { relay: port, auth: port }, stallMs: 400, quietMs: 50, caseTimeoutMs: 10_000, ...limits });
}

const transaction = (token: string): Step[] => [line('EHLO', 'EHLO c.test'), line('MAIL', 'MAIL FROM:<a@b.test>'), line('RCPT', 'RCPT TO:<c@d.test>'), line('DATA', 'DATA'), body(token), line('QUIT', 'QUIT')];

test('a conforming server gives no finding, in every transport, and its queue id comes back with the token', async () => {
  const port = await server();
  for (const transport of ['lockstep', 'pipelined', 'blast'] as const) {
    const out = await play(port, fuzzCase(transaction('T.1'), transport));
    assert.deepEqual(out.findings, [], transport);
    assert.deepEqual(out.accepted.map((a) => a.queueId), ['Q1'], transport);
    if (transport !== 'blast') assert.equal(out.accepted[0].token, 'T.1');
  }
});

test('a command left unanswered is a stall', async () => {
  const port = await server((l) => (l === 'NOOP' ? [] : null));
  const out = await play(port, fuzzCase([line('NOOP', 'NOOP'), line('QUIT', 'QUIT')]));
  assert.ok(out.findings.some((f) => f.kind === 'stall' && f.what === 'no reply to NOOP'), JSON.stringify(out.findings));
});

test('a reply without an enhanced code, or with a broken continuation, is malformed', async () => {
  const port = await server((l) => (l === 'VRFY x' ? '502 command not implemented' : l === 'HELP' ? ['214-help', '215 more'] : null));
  const out = await play(port, fuzzCase([line('VRFY', 'VRFY x'), line('other', 'HELP'), line('QUIT', 'QUIT')]));
  const kinds = out.findings.filter((f) => f.kind === 'malformed').map((f) => f.what);
  assert.ok(kinds.some((w) => w.startsWith('no-enhanced-code 502')), JSON.stringify(kinds));
  assert.ok(kinds.some((w) => w.startsWith('multiline-code-mismatch')), JSON.stringify(kinds));
});

test('two replies to one command are one too many', async () => {
  const port = await server((l) => (l === 'RSET' ? ['250 2.0.0 Ok', '250 2.0.0 Ok'] : null));
  const out = await play(port, fuzzCase([line('RSET', 'RSET'), line('NOOP', 'NOOP'), line('QUIT', 'QUIT')]));
  assert.ok(out.findings.some((f) => f.kind === 'protocol' && f.what === 'more replies than commands'), JSON.stringify(out.findings));
});

test('an 8-bit address taken without SMTPUTF8, an unknown parameter taken, recipients over the limit are protocol findings', async () => {
  const port = await server();
  const steps = [
    line('EHLO', 'EHLO c.test'),
    line('MAIL', 'MAIL FROM:<caf\xe9@b.test> FOO=BAR', { eightBitAddress: true, smtputf8: false, unknownParam: true }),
    ...Array.from({ length: 5 }, (_, i) => line('RCPT', `RCPT TO:<r${i}@d.test>`)),
    line('QUIT', 'QUIT'),
  ];
  const out = await play(port, fuzzCase(steps));
  const what = out.findings.map((f) => f.what);
  assert.ok(what.includes('8-bit address accepted in MAIL without SMTPUTF8'), JSON.stringify(what));
  assert.ok(what.includes('unknown ESMTP parameter accepted in MAIL'), JSON.stringify(what));
  assert.ok(what.includes('more recipients than smtpd_recipient_limit accepted'), JSON.stringify(what));
});

test('a message over the size limit taken is a protocol finding', async () => {
  const port = await server();
  const steps = transaction('T.2');
  steps[4] = { ...body('T.2'), size: 5000 };
  const out = await play(port, fuzzCase(steps));
  assert.ok(out.findings.some((f) => f.what === 'message over message_size_limit accepted'), JSON.stringify(out.findings));
});

test('a server that closes without 421 in the middle of a session is named; one that says 421 first is not', async () => {
  const rude = await server((l) => (l === 'NOOP' ? [] : null));
  const polite = await server((l) => (l === 'NOOP' ? '421 4.3.2 going away' : null));
  const steps = [line('RSET', 'RSET'), line('NOOP', 'NOOP'), line('RSET', 'RSET'), line('QUIT', 'QUIT')];
  for (const s of servers.slice(-2)) {
    s.on('connection', (sock: Socket) => sock.on('data', (d: Buffer) => {
      if (d.toString().includes('NOOP')) setTimeout(() => sock.destroy(), 20);
    }));
  }
  const a = await play(rude, fuzzCase(steps));
  const b = await play(polite, fuzzCase(steps));
  assert.ok(a.findings.some((f) => f.what === 'connection closed without 421'), JSON.stringify(a.findings));
  assert.ok(!b.findings.some((f) => f.what === 'connection closed without 421'), JSON.stringify(b.findings));
});

test('a first reply that is not a greeting is named', async () => {
  const port = await server();
  servers.at(-1)!.removeAllListeners('connection');
  servers.at(-1)!.on('connection', (sock: Socket) => {
    sock.on('error', () => undefined);
    sock.end('250 2.0.0 hello?\r\n');
  });
  const out = await play(port, fuzzCase([line('QUIT', 'QUIT')]));
  assert.ok(out.findings.some((f) => f.what === 'first reply is not a greeting'), JSON.stringify(out.findings));
});
