/**
 * The smtp client's DATA transaction (smtp-data): with PIPELINING the
 * envelope and DATA leave in one write and the content with its "." line
 * in a second; without it each command waits for its reply. Each recipient
 * gets its own RCPT reply; a refused MAIL FROM, all recipients refused, a
 * refused DATA, a refused message and a lost connection end it as
 * nodemailer's send() ended it, and a server that answers 354 after
 * refusing every recipient gets the lone "." that ends an empty message.
 * A sink on loopback, and a scripted server for the replies a sink does
 * not give.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { SmtpClient } from '../../../src/actors/smtp/smtp-client.js';
import { startSmtpSink } from '../../helpers/smtp-sink.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');
const params = (n: number) => ({ smtputf8: false, recipients: Array.from({ length: n }, () => ({})) });

/** Every write the client's socket makes, as text. */
function spyWrites(client: SmtpClient): string[] {
  const socket = (client as unknown as { _socket: Socket })._socket;
  const writes: string[] = [];
  const s = socket as unknown as { _write: (c: Buffer, e: string, cb: () => void) => void; _writev: (c: Array<{ chunk: Buffer }>, cb: () => void) => void };
  const w = s._write.bind(socket);
  const wv = s._writev.bind(socket);
  s._write = (c, e, cb) => {
    writes.push(Buffer.from(c).toString('latin1'));
    w(c, e, cb);
  };
  s._writev = (cs, cb) => {
    writes.push(cs.map((c) => Buffer.from(c.chunk).toString('latin1')).join(''));
    wv(cs, cb);
  };
  return writes;
}

test('pipelined: envelope and DATA in one write, content and "." in the next; without PIPELINING one command a write', async () => {
  for (const pipelining of [true, false]) {
    const sink = await startSmtpSink({ pipelining, size: 1_000_000, rcpt: (a) => (a.startsWith('nobody@') ? { code: 550, message: '5.1.1 <' + a + '>: Recipient address rejected' } : null) });
    const client = new SmtpClient({ host: '127.0.0.1', port: sink.port, name: 'client.test', ignoreTLS: true });
    try {
      await client.open();
      const writes = spyWrites(client);
      const body = b('Subject: x\r\n\r\n.dot line\r\nlast line without end');
      const r = await client.transaction('a@client.test', ['b@sink.test', 'nobody@sink.test'], params(2), body, { size: body.length, use8BitMime: true });
      assert.equal(r.error, undefined);
      assert.match(r.info!.response, /^250 /);
      assert.deepEqual(r.accepted, ['b@sink.test']);
      assert.equal(r.rejectedErrors[0].response, '550 5.1.1 <nobody@sink.test>: Recipient address rejected');
      assert.equal((r.rejectedErrors[0] as { recipient?: string }).recipient, 'nobody@sink.test');
      const mail = `MAIL FROM:<a@client.test> BODY=8BITMIME SIZE=${body.length}\r\n`;
      const content = 'Subject: x\r\n\r\n..dot line\r\nlast line without end\r\n.\r\n';
      if (pipelining) assert.deepEqual(writes, [`${mail}RCPT TO:<b@sink.test>\r\nRCPT TO:<nobody@sink.test>\r\nDATA\r\n`, content]);
      else assert.deepEqual(writes, [mail, 'RCPT TO:<b@sink.test>\r\n', 'RCPT TO:<nobody@sink.test>\r\n', 'DATA\r\n', content]);
      assert.equal(sink.messages[0].raw.toString('latin1'), 'Subject: x\r\n\r\n.dot line\r\nlast line without end\r\n');
    } finally {
      client.shutdown();
      await sink.close();
    }
  }
});

/** A server that answers each command line with the next reply of `script` (a function of the line), and records the lines. */
async function scripted(reply: (line: string) => string | undefined): Promise<{ server: Server; port: number; lines: string[] }> {
  const lines: string[] = [];
  const server = createServer((socket) => {
    socket.write('220 scripted.test ESMTP\r\n');
    let buf = '';
    let inData = false;
    socket.on('data', (d: Buffer) => {
      buf += d.toString('latin1');
      let i: number;
      while ((i = buf.indexOf('\r\n')) >= 0) {
        const line = buf.slice(0, i);
        buf = buf.slice(i + 2);
        if (inData) {
          if (line !== '.') continue;
          inData = false;
        }
        lines.push(line);
        const out = /^EHLO/i.test(line) ? '250-scripted.test\r\n250 PIPELINING' : reply(line);
        if (out === undefined) {
          socket.destroy();
          return;
        }
        if (out.startsWith('354')) inData = true;
        socket.write(out + '\r\n');
      }
    });
    socket.on('error', () => undefined);
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  return { server, port: (server.address() as { port: number }).port, lines };
}

async function transact(reply: (line: string) => string | undefined, to: string[]) {
  const s = await scripted(reply);
  const client = new SmtpClient({ host: '127.0.0.1', port: s.port, name: 'client.test', ignoreTLS: true });
  try {
    await client.open();
    const r = await client.transaction('a@client.test', to, params(to.length), b('Subject: s\r\n\r\nbody\r\n'), { size: 0, use8BitMime: false });
    return { r, lines: s.lines, client };
  } finally {
    s.server.close();
  }
}

test('every recipient refused and DATA answered 354 all the same: the lone "." ends the empty message, the session stays', async () => {
  const { r, lines, client } = await transact((l) => (l.startsWith('MAIL') ? '250 ok' : l.startsWith('RCPT') ? (l.includes('x@') ? '450 4.2.0 busy' : '550 5.1.1 unknown') : l === 'DATA' ? '354 go' : l === '.' ? '250 nothing' : '250 ok'), ['u@a.test', 'x@a.test']);
  assert.equal(r.error?.code, 'EENVELOPE');
  assert.equal(r.error?.command, 'RCPT TO');
  assert.equal(r.error?.response, '450 4.2.0 busy', 'a temporary refusal first');
  assert.deepEqual(lines.slice(-4), ['RCPT TO:<u@a.test>', 'RCPT TO:<x@a.test>', 'DATA', '.']);
  assert.equal(client.dead, false);
  assert.equal(await client.rset(), true);
  client.shutdown();
});

test('MAIL FROM refused and DATA answered 354: the connection is dropped, the error is the MAIL refusal', async () => {
  const { r, lines, client } = await transact((l) => (l.startsWith('MAIL') ? '553 5.1.8 sender refused' : l === 'DATA' ? '354 go' : '250 ok'), ['u@a.test']);
  assert.equal(r.error?.command, 'MAIL FROM');
  assert.equal(r.error?.response, '553 5.1.8 sender refused');
  assert.ok(!lines.includes('.'), 'no content, no "."');
  await new Promise((res) => setTimeout(res, 50));
  assert.equal(client.dead, true);
});

test('DATA refused, the message refused, the connection lost after 354', async () => {
  const refusedData = await transact((l) => (l === 'DATA' ? '554 5.5.1 no data' : '250 ok'), ['u@a.test']);
  assert.equal(refusedData.r.error?.command, 'DATA');
  assert.equal(refusedData.r.error?.code, 'EENVELOPE');
  assert.equal(refusedData.r.error?.response, '554 5.5.1 no data');
  refusedData.client.shutdown();

  const refusedMessage = await transact((l) => (l === 'DATA' ? '354 go' : l === '.' ? '552 5.3.4 too big' : '250 ok'), ['u@a.test']);
  assert.equal(refusedMessage.r.error?.command, 'DATA');
  assert.equal(refusedMessage.r.error?.code, 'EMESSAGE');
  assert.equal(refusedMessage.r.error?.response, '552 5.3.4 too big');
  assert.deepEqual(refusedMessage.r.accepted, ['u@a.test']);
  refusedMessage.client.shutdown();

  const lost = await transact((l) => (l === '.' ? undefined : l === 'DATA' ? '354 go' : '250 ok'), ['u@a.test']);
  assert.equal(lost.r.info, undefined);
  assert.equal(lost.r.error?.response, undefined);
  assert.match(lost.r.error?.code ?? '', /^E/);
  assert.deepEqual(lost.r.accepted, ['u@a.test']);
});

test('an address that would break the command line is refused before anything is sent', async () => {
  const { r, lines, client } = await transact(() => '250 ok', ['u@a.test>\r\nRSET']);
  assert.equal(r.error?.code, 'EENVELOPE');
  assert.ok(!lines.some((l) => l.startsWith('MAIL')), lines.join('|'));
  client.shutdown();
});
