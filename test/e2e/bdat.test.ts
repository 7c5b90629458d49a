/**
 * BDAT through the real daemon: chunks of every shape, sent over a raw
 * socket, arrive at a sink after relay with the content byte for byte
 * (behind the Received: header the relay adds); BDAT and DATA in one
 * session; a chunk past the size limit and the session going on.
 */
import { test, after, before } from 'node:test';
import assert from 'node:assert/strict';
import { Session } from '../helpers/smtp-line-session.js';
import { startSmtpSink, type SmtpSink } from '../helpers/smtp-sink.js';
import { startDaemon, type RunningDaemon } from '../helpers/daemon.js';
import { waitFor } from '../helpers/send-mail.js';

let sink: SmtpSink;
let daemon: RunningDaemon;

before(async () => {
  sink = await startSmtpSink();
  daemon = await startDaemon({ params: { relayhost: `[127.0.0.1]:${sink.port}`, message_size_limit: '100000' } });
});

after(async () => {
  await daemon?.stop();
  await sink?.close();
});

function message(id: string): Buffer {
  const bytes: number[] = [];
  for (let b = 0; b < 256; b++) if (b !== 0x0a && b !== 0x0d) bytes.push(b);
  return Buffer.concat([
    Buffer.from(`From: a@client.test\r\nTo: b@remote.test\r\nSubject: chunked ${id}\r\nMessage-ID: <${id}@client.test>\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n`),
    Buffer.from('.a dot line\r\n.\r\n..\r\ngrüße 📮 日本語\r\n', 'utf8'),
    Buffer.from(bytes),
    Buffer.from('\r\n' + 'y'.repeat(998) + '\r\nend\r\n'),
  ]);
}

async function relayed(id: string): Promise<Buffer> {
  await waitFor(() => sink.messages.some((m) => m.raw.includes(`<${id}@client.test>`)), 30_000, `${id} at the sink`);
  return sink.messages.find((m) => m.raw.includes(`<${id}@client.test>`))!.raw;
}

test('every chunking shape arrives at the sink after relay with the content byte for byte', async () => {
  const shapes: Record<string, number[]> = {
    one: [],
    many: [50, 1, 200, 17, 3000],
    'mid-line': [23, 24, 25],
    bytes: new Array<number>(400).fill(1),
  };
  const s = await Session.open(daemon.port);
  for (const [id, sizes] of Object.entries(shapes)) {
    const content = message(id);
    assert.equal(await s.command('MAIL FROM:<a@client.test> BODY=8BITMIME'), '250 2.1.0 Ok');
    assert.equal(await s.command('RCPT TO:<b@remote.test>'), '250 2.1.5 Ok');
    await s.bdat(content, (i, left) => (i < sizes.length ? sizes[i] : left));
    const got = await relayed(id);
    assert.match(got.toString('latin1'), /^Received: from client\.test \(localhost \[127\.0\.0\.1\]\)/);
    assert.ok(got.subarray(got.length - content.length).equals(content), `${id}: byte-exact after relay`);
  }
  s.close();
});

test('BDAT and DATA in one session, all pipelined; a chunk past message_size_limit gets 552 and the session goes on', async () => {
  const s = await Session.open(daemon.port);
  const viaBdat = message('pipelined-bdat');
  s.send(Buffer.concat([Buffer.from(`MAIL FROM:<a@client.test>\r\nRCPT TO:<b@remote.test>\r\nBDAT ${viaBdat.length} LAST\r\n`), viaBdat, Buffer.from('MAIL FROM:<a@client.test>\r\nRCPT TO:<b@remote.test>\r\nDATA\r\n')]));
  assert.equal(await s.reply(), '250 2.1.0 Ok');
  assert.equal(await s.reply(), '250 2.1.5 Ok');
  assert.match(await s.reply(), /^250 2\.0\.0 Ok: \d+ bytes queued as/);
  assert.equal(await s.reply(), '250 2.1.0 Ok');
  assert.equal(await s.reply(), '250 2.1.5 Ok');
  assert.equal(await s.reply(), '354 End data with <CR><LF>.<CR><LF>');
  assert.match(await s.command('Subject: by DATA\r\nMessage-ID: <by-data@client.test>\r\n\r\nafter BDAT\r\n.'), /^250 2\.0\.0 Ok: queued as/);
  await relayed('pipelined-bdat');
  await relayed('by-data');

  assert.equal(await s.command('MAIL FROM:<a@client.test>'), '250 2.1.0 Ok');
  assert.equal(await s.command('RCPT TO:<b@remote.test>'), '250 2.1.5 Ok');
  s.send(Buffer.concat([Buffer.from('BDAT 60000\r\n'), Buffer.alloc(60000, 0x61), Buffer.from('BDAT 60000 LAST\r\n'), Buffer.alloc(60000, 0x62)]));
  assert.equal(await s.reply(), '250 2.0.0 Ok: 60000 bytes');
  assert.equal(await s.reply(), '552 5.3.4 Chunk exceeds message size limit');
  const after = message('after-552');
  assert.equal(await s.command('MAIL FROM:<a@client.test>'), '250 2.1.0 Ok');
  assert.equal(await s.command('RCPT TO:<b@remote.test>'), '250 2.1.5 Ok');
  s.send(Buffer.concat([Buffer.from(`BDAT ${after.length} LAST\r\n`), after]));
  assert.match(await s.reply(), /^250 2\.0\.0 Ok: \d+ bytes queued as/);
  const got = await relayed('after-552');
  assert.ok(got.subarray(got.length - after.length).equals(after));
  s.close();
  assert.match(daemon.log(), /warning: \w+: BDAT request from localhost\[127\.0\.0\.1\] exceeds message size limit/);
});
