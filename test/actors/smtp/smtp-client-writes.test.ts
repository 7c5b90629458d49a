/**
 * The smtp client hands a message's content and its final "." line to the
 * socket in one write (one system call per message instead of two), and a
 * message larger than the socket's buffer still goes out whole: the cork
 * never holds a paused pipe.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { SmtpClient } from '../../../src/actors/smtp/smtp-client.js';
import { startSmtpSink, type SmtpSink } from '../../helpers/smtp-sink.js';

let sink: SmtpSink;

before(async () => {
  sink = await startSmtpSink();
});

after(async () => {
  await sink?.close();
});

/** Records what each write call of the socket carried (one entry per write or writev). */
function spyWrites(socket: Socket): string[][] {
  const calls: string[][] = [];
  const s = socket as unknown as {
    _write: (chunk: Buffer, enc: string, cb: () => void) => void;
    _writev: (chunks: Array<{ chunk: Buffer }>, cb: () => void) => void;
  };
  const write = s._write.bind(socket);
  const writev = s._writev.bind(socket);
  s._write = (chunk, enc, cb) => {
    calls.push([Buffer.from(chunk).toString('latin1')]);
    write(chunk, enc, cb);
  };
  s._writev = (chunks, cb) => {
    calls.push(chunks.map((c) => Buffer.from(c.chunk).toString('latin1')));
    writev(chunks, cb);
  };
  return calls;
}

async function session(): Promise<{ client: SmtpClient; writes: string[][] }> {
  const client = new SmtpClient({ host: '127.0.0.1', port: sink.port, name: 'client.test', ignoreTLS: true });
  await client.open();
  const socket = (client as unknown as { _socket: Socket })._socket;
  return { client, writes: spyWrites(socket) };
}

test('the content and the final "." line leave in one write', async () => {
  const { client, writes } = await session();
  const body = 'Subject: one write\r\n\r\n' + 'x'.repeat(1000) + '\r\n';
  const r = await client.transaction('a@client.test', ['b@sink.test'], { smtputf8: false, recipients: [{}] }, Buffer.from(body), { size: body.length, use8BitMime: false });
  assert.equal(r.error, undefined);
  client.shutdown();
  const content = writes.filter((w) => w.join('').includes('x'.repeat(1000)));
  assert.equal(content.length, 1, JSON.stringify(writes.map((w) => w.map((c) => c.slice(0, 20)))));
  assert.ok(content[0].join('').endsWith('\r\n.\r\n'), 'the "." line is in the same write');
  assert.equal(sink.messages.at(-1)!.raw.toString('latin1'), body);
});

test('a message larger than the socket buffer arrives whole', async () => {
  const { client } = await session();
  const line = 'y'.repeat(76) + '\r\n';
  const body = 'Subject: large\r\n\r\n' + line.repeat(4000);
  const r = await client.transaction('a@client.test', ['c@sink.test'], { smtputf8: false, recipients: [{}] }, Buffer.from(body), { size: body.length, use8BitMime: false });
  assert.equal(r.error, undefined);
  client.shutdown();
  assert.equal(sink.messages.at(-1)!.raw.toString('latin1'), body);
});
