/**
 * Large messages through the real daemon (message_spool_threshold set low):
 * by DATA and by BDAT they are written to a spool file as they arrive, kept
 * beside the journal while queued, and arrive at the sink byte for byte
 * (dot-unstuffed, bare LF normalised across chunk boundaries, behind the
 * Received: header); the file goes once the message is delivered; one past
 * message_size_limit gets 552, leaves no file, and the session goes on.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { Session } from '../helpers/smtp-line-session.js';
import { readdir } from 'node:fs/promises';
import { join } from 'node:path';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { waitFor } from '../helpers/send-mail.js';

let sink: SmtpSink;
let daemon: RunningDaemon;
const SIZE_LIMIT = 600_000;

before(async () => {
  // The sink holds each message a while, so the queued form can be looked at.
  sink = await startSmtpSink({ dataDelayMs: 1500 });
  daemon = await startDaemon({
    params: { relayhost: `[127.0.0.1]:${sink.port}`, message_size_limit: String(SIZE_LIMIT), message_spool_threshold: '4096' },
  });
});

after(async () => {
  await daemon?.stop();
  await sink?.close();
});

/** A message of about `size` bytes: lines starting with '.', 8-bit text, and bare LF every so often (`bareLf`). */
function largeMessage(id: string, size: number, bareLf: boolean): Buffer {
  const parts: Buffer[] = [
    Buffer.from(`From: a@client.test\r\nTo: b@remote.test\r\nSubject: large ${id}\r\nMessage-ID: <${id}@client.test>\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n`),
  ];
  let total = parts[0].length;
  for (let i = 0; total < size; i++) {
    const line = i % 7 === 0 ? `.dot line ${i}` : i % 5 === 0 ? `grüße ${i} ${'x'.repeat(i % 90)}` : `line ${i} ${'abcdefghij'.repeat(i % 9)}`;
    const b = Buffer.from(line + (bareLf && i % 11 === 3 ? '\n' : '\r\n'), 'utf8');
    parts.push(b);
    total += b.length;
  }
  // The last line ends with CRLF: only CRLF.CRLF ends DATA.
  parts.push(Buffer.from('end\r\n'));
  return Buffer.concat(parts);
}

/** DATA form: every line starting with '.' gets one more, then the end marker. */
function dotStuff(content: Buffer): Buffer {
  const text = content.toString('latin1').replace(/(^|\n)\./g, '$1..');
  return Buffer.concat([Buffer.from(text, 'latin1'), Buffer.from('.\r\n')]);
}

function normalized(content: Buffer): Buffer {
  return Buffer.from(content.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
}

async function relayed(id: string): Promise<Buffer> {
  await waitFor(() => sink.messages.some((m) => m.raw.includes(`<${id}@client.test>`)), 60_000, `${id} at the sink`);
  return sink.messages.find((m) => m.raw.includes(`<${id}@client.test>`))!.raw;
}

const largeDir = (): string => join(daemon.queueDir, 'large');

test('a large message by DATA is spooled to a file as it arrives, queued with its body there, and relayed byte for byte', async () => {
  const content = largeMessage('by-data', 400_000, true);
  const s = await Session.open(daemon.port);
  assert.equal(await s.command('MAIL FROM:<a@client.test> BODY=8BITMIME'), '250 2.1.0 Ok');
  assert.equal(await s.command('RCPT TO:<b@remote.test>'), '250 2.1.5 Ok');
  assert.match(await s.command('DATA'), /^354 /);
  // Sent in uneven pieces, so that line ends and dot lines straddle the socket's chunks.
  const wire = dotStuff(content);
  for (let at = 0; at < wire.length; at += 7001) s.send(wire.subarray(at, at + 7001));
  const r = await s.reply();
  const id = /queued as (\w+)/.exec(r)?.[1];
  assert.ok(id, r);
  // While the sink holds the delivery, the body is in its own file named by the queue id.
  await waitFor(async () => (await readdir(largeDir())).includes(id), 10_000, 'the body file beside the journal');
  const got = await relayed('by-data');
  const expected = normalized(content);
  assert.match(got.toString('latin1'), /^Received: from client\.test /);
  assert.ok(got.subarray(got.length - expected.length).equals(expected), 'byte-exact after relay');
  await daemon.waitRemoved(id);
  await waitFor(async () => !(await readdir(largeDir())).includes(id), 10_000, 'the body file removed');
  assert.deepEqual(await readdir(join(daemon.queueDir, 'spool')), []);
  s.close();
});

test('a large message by BDAT in chunks of every size, binary bytes and CR/LF split across chunks, arrives byte for byte', async () => {
  const body: number[] = [];
  for (let i = 0; i < 300_000; i++) body.push(i % 1000 === 998 ? 0x0d : i % 1000 === 999 ? 0x0a : 0x20 + (i % 90));
  const content = Buffer.concat([Buffer.from('From: a@client.test\r\nSubject: bdat\r\nMessage-ID: <by-bdat@client.test>\r\n\r\n.starts with a dot\r\n'), Buffer.from(body)]);
  const s = await Session.open(daemon.port);
  assert.equal(await s.command('MAIL FROM:<a@client.test> BODY=8BITMIME'), '250 2.1.0 Ok');
  assert.equal(await s.command('RCPT TO:<b@remote.test>'), '250 2.1.5 Ok');
  // Chunk ends fall between a CR and its LF (offset 999 of each thousand after the header).
  const sizes = [1, 4095, 1, 3, 10_000, 65_537];
  await s.bdat(content, (i) => sizes[i % sizes.length]);
  const got = await relayed('by-bdat');
  assert.ok(got.subarray(got.length - content.length).equals(content), 'byte-exact after relay');
  s.close();
});

test('a spooling message past message_size_limit gets 552, leaves no file behind, and the session goes on', async () => {
  const s = await Session.open(daemon.port);
  assert.equal(await s.command('MAIL FROM:<a@client.test>'), '250 2.1.0 Ok');
  assert.equal(await s.command('RCPT TO:<b@remote.test>'), '250 2.1.5 Ok');
  assert.match(await s.command('DATA'), /^354 /);
  const big = largeMessage('too-big', SIZE_LIMIT + 50_000, false);
  s.send(dotStuff(big));
  assert.equal(await s.reply(), '552 5.3.4 Error: message file too big');
  assert.equal(await s.command('MAIL FROM:<a@client.test>'), '250 2.1.0 Ok');
  assert.equal(await s.command('RCPT TO:<b@remote.test>'), '250 2.1.5 Ok');
  assert.match(await s.command('DATA'), /^354 /);
  const after = largeMessage('after-too-big', 50_000, false);
  s.send(dotStuff(after));
  assert.match(await s.reply(), /^250 2\.0\.0 Ok: queued as/);
  const got = await relayed('after-too-big');
  assert.ok(got.subarray(got.length - after.length).equals(after));
  await waitFor(async () => (await readdir(join(daemon.queueDir, 'spool'))).length === 0, 10_000, 'no spool file left');
  s.close();
});
