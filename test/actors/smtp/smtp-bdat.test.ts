/**
 * The smtp client sends with BDAT (RFC 3030) when the next hop offers
 * CHUNKING: one "BDAT <size> LAST" chunk with the message byte for byte
 * (lines starting with '.', 8-bit and binary bytes untouched), pipelined
 * with MAIL and RCPT in one write when PIPELINING is offered; DATA to a
 * server without CHUNKING; smtp_discard_ehlo_keywords = chunking turns it
 * off as Postfix's keyword list does; BODY=BINARYMIME only to a server that
 * offers BINARYMIME, else converted, or bounced with 5.6.3 when conversion
 * is off. Real sinks on loopback (test/helpers/smtp-chunking-sink.ts).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Socket } from 'node:net';
import { simpleParser } from 'mailparser';
import { SmtpAgent } from '../../../src/actors/smtp/smtp-agent.js';
import { SmtpClient, filterEhloReply } from '../../../src/actors/smtp/smtp-client.js';
import type { DeliveryRequest } from '../../../src/protocol/protocol.js';
import { startSmtpSink, type SmtpSink } from '../../helpers/smtp-sink.js';
import { captureLog, contentReader, deliverToSink, makeConfig, makeRequest } from './smtp-test-kit.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

function deliver(sink: SmtpSink, content: Buffer, params: Record<string, string> = {}, over: Partial<DeliveryRequest> & { to?: string[] } = {}) {
  return deliverToSink(sink.port, content, params, over);
}

/** Every byte value, with CR, LF, bare CR, bare LF, NUL and lines that start with '.'. */
function binaryBody(): Buffer {
  const all = Buffer.alloc(256);
  for (let i = 0; i < 256; i++) all[i] = i;
  return Buffer.concat([b('.\r\n..two dots\r\n.\r\n'), all, b('\r\n.\r\nbare\rcr bare\nlf\r\n'), all, b('\r\n')]);
}

test('BDAT to a CHUNKING sink: one LAST chunk, byte-exact with dot lines and 8-bit data; pipelined with MAIL and RCPT', async () => {
  const sink = await startSmtpSink({ chunking: true });
  try {
    const content = Buffer.concat([b('From: a@example.org\r\nSubject: bdat\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'),
      Buffer.from('.a dot line\r\n..two\r\n.\r\nGrüße, naïve café\r\nlast line without end', 'utf8')]);
    const { res } = await deliver(sink, content, {}, { bodyType: '8BITMIME', to: ['b@example.com', 'c@example.com'] });
    assert.equal(res.outcomes.map((o) => o.state).join(), 'delivered,delivered');
    const msg = sink.messages[0];
    assert.deepEqual(msg.raw, content, 'byte for byte, no dot-stuffing');
    assert.deepEqual(msg.bdat, [{ size: content.length, last: true }]);
    assert.equal(msg.mailParams.BODY, '8BITMIME');
    assert.equal(msg.mailParams.SIZE, undefined, 'no SIZE= to a server that did not offer SIZE');
    assert.deepEqual(msg.rcptTo, ['b@example.com', 'c@example.com']);
    // Pipelined: MAIL, both RCPTs, the BDAT command and the content arrive before any reply is needed, in one segment here.
    const wire = sink.wire;
    const start = wire.indexOf('MAIL FROM:');
    assert.ok(wire.slice(start).startsWith(`MAIL FROM:<a@example.org> BODY=8BITMIME\r\nRCPT TO:<b@example.com> ORCPT=rfc822;b@example.com\r\nRCPT TO:<c@example.com> ORCPT=rfc822;c@example.com\r\nBDAT ${content.length} LAST\r\n`), wire.slice(start, start + 200));
    assert.ok(!/\r\nDATA\r\n/.test(wire), 'no DATA');
    assert.match(res.outcomes[0].reason, /queued as SINK1/);
  } finally {
    await sink.close();
  }
});

test('BDAT leaves in one write with the envelope when pipelined; command by command without PIPELINING, the chunk only after an accepted recipient', async () => {
  for (const pipelining of [true, false]) {
    const sink = await startSmtpSink({ chunking: true, pipelining, rcpt: (a) => (a.startsWith('nobody@') ? { code: 550, message: '5.1.1 <' + a + '>: Recipient address rejected' } : null) });
    try {
      const client = new SmtpClient({ host: '127.0.0.1', port: sink.port, name: 'client.test', ignoreTLS: true });
      await client.open();
      assert.ok(client.extensions.includes('CHUNKING'));
      const socket = (client as unknown as { _socket: Socket })._socket;
      const writes: string[] = [];
      const s = socket as unknown as { _write: (c: Buffer, e: string, cb: () => void) => void; _writev: (c: Array<{ chunk: Buffer }>, cb: () => void) => void };
      const w = s._write.bind(socket);
      const wv = s._writev.bind(socket);
      s._write = (c, e, cb) => { writes.push(Buffer.from(c).toString('latin1')); w(c, e, cb); };
      s._writev = (cs, cb) => { writes.push(cs.map((c) => Buffer.from(c.chunk).toString('latin1')).join('')); wv(cs, cb); };
      const body = b('Subject: x\r\n\r\n' + 'y'.repeat(5000) + '\r\n');
      const r = await client.bdatTransaction('a@client.test', ['b@sink.test', 'nobody@sink.test'], { smtputf8: false, recipients: [{}, {}] }, body, '');
      assert.equal(r.error, undefined);
      assert.match(r.info!.response, /^250 /);
      assert.deepEqual(r.accepted, ['b@sink.test']);
      assert.equal(r.rejectedErrors[0].response, '550 5.1.1 <nobody@sink.test>: Recipient address rejected');
      if (pipelining) {
        assert.equal(writes.length, 1, 'envelope, BDAT and content in one system call');
        assert.ok(writes[0].startsWith('MAIL FROM:<a@client.test>\r\nRCPT TO:<b@sink.test>\r\nRCPT TO:<nobody@sink.test>\r\nBDAT 5016 LAST\r\nSubject: x'));
      } else {
        assert.deepEqual(writes.slice(0, 3), ['MAIL FROM:<a@client.test>\r\n', 'RCPT TO:<b@sink.test>\r\n', 'RCPT TO:<nobody@sink.test>\r\n']);
        assert.equal(writes.length, 4, 'the BDAT command and the content in one system call');
        assert.ok(writes[3].startsWith('BDAT 5016 LAST\r\nSubject: x'));
      }
      assert.deepEqual(sink.messages[0].raw, body);
      // Every recipient refused: pipelined, the sink reads and drops the chunk and the session stays in step.
      const none = await client.bdatTransaction('a@client.test', ['nobody@sink.test'], { smtputf8: false, recipients: [{}] }, body, '');
      assert.equal(none.error?.command, 'RCPT TO');
      assert.match(none.error!.response!, /^550 5\.1\.1/);
      assert.equal(await client.rset(), true, 'the session is still in step');
      const again = await client.bdatTransaction('a@client.test', ['b@sink.test'], { smtputf8: false, recipients: [{}] }, b('Subject: again\r\n\r\nok\r\n'), '');
      assert.match(again.info!.response, /^250 /);
      assert.equal(sink.messages.length, 2);
      client.shutdown();
    } finally {
      await sink.close();
    }
  }
});

test('a BDAT refusal and a refused sender come back with their replies; the end reply is "in reply to BDAT"', async () => {
  const sink = await startSmtpSink({ chunking: true, data: (m) => (m.rcptTo[0] === 'full@example.com' ? { code: 452, message: '4.3.1 Insufficient system storage' } : null), mail: (f) => (f === 'bad@example.org' ? { code: 553, message: '5.7.1 <bad@example.org>: Sender address rejected' } : null) });
  try {
    const content = b('Subject: x\r\n\r\nbody\r\n');
    const full = await deliver(sink, content, {}, { to: ['full@example.com'] });
    assert.equal(full.res.outcomes[0].state, 'deferred');
    assert.equal(full.res.outcomes[0].dsn, '4.3.1');
    assert.match(full.res.outcomes[0].reason, /said: 452 4\.3\.1 Insufficient system storage \(in reply to BDAT command\)/);
    const bad = await deliver(sink, content, {}, { sender: 'bad@example.org' });
    assert.equal(bad.res.outcomes[0].state, 'bounced');
    assert.match(bad.res.outcomes[0].reason, /\(in reply to MAIL FROM command\)/);
  } finally {
    await sink.close();
  }
});

test('a sink without CHUNKING gets DATA; smtp_discard_ehlo_keywords = chunking sends DATA to one that offers it, and is logged', async () => {
  const plain = await startSmtpSink();
  const chunking = await startSmtpSink({ chunking: true });
  try {
    const content = b('Subject: x\r\n\r\n.dot line\r\nbody\r\n');
    const a = await deliver(plain, content);
    assert.equal(a.res.outcomes[0].state, 'delivered');
    assert.deepEqual(plain.messages[0].raw, content);
    assert.ok(plain.wire.includes('\r\nDATA\r\n') && !plain.wire.includes('BDAT'));

    const d = await deliver(chunking, content, { smtp_discard_ehlo_keywords: 'chunking' });
    assert.equal(d.res.outcomes[0].state, 'delivered');
    assert.equal(chunking.messages[0].bdat, undefined, 'came with DATA');
    assert.deepEqual(chunking.messages[0].raw, content);
    assert.ok(chunking.wire.includes('\r\n..dot line\r\n'), 'dot-stuffed on the wire');
    assert.ok(d.lines.some((l) => l.endsWith('discarding EHLO keywords: CHUNKING')), d.lines.join('\n'));

    const silent = await deliver(chunking, content, { smtp_discard_ehlo_keywords: 'silent-discard, CHUNKING, pipelining' });
    assert.equal(chunking.messages[1].bdat, undefined);
    assert.ok(!silent.lines.some((l) => l.includes('discarding EHLO keywords')), 'silent-discard logs nothing');

    const on = await deliver(chunking, content);
    assert.deepEqual(chunking.messages[2].bdat, [{ size: content.length, last: true }]);
    assert.equal(on.res.outcomes[0].state, 'delivered');
  } finally {
    await plain.close();
    await chunking.close();
  }
});

test('filterEhloReply takes out the listed keywords and keeps the reply well formed', () => {
  const reply = '250-sink.test\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250-8BITMIME\r\n250 CHUNKING';
  assert.deepEqual(filterEhloReply(reply, ['chunking']), { reply: '250-sink.test\r\n250-PIPELINING\r\n250-SIZE 1000\r\n250 8BITMIME', discarded: ['CHUNKING'] });
  assert.deepEqual(filterEhloReply(reply, ['size', 'pipelining']), { reply: '250-sink.test\r\n250-8BITMIME\r\n250 CHUNKING', discarded: ['PIPELINING', 'SIZE'] });
  assert.equal(filterEhloReply(reply, ['starttls']).reply, reply);
});

test('BINARYMIME: as is with BODY=BINARYMIME to a server that offers it; converted for one that does not; 5.6.3 when conversion is off', async () => {
  const binary = await startSmtpSink({ chunking: true, binaryMime: true });
  const noBinary = await startSmtpSink({ chunking: true });
  const plain = await startSmtpSink({ eightBitMime: false });
  try {
    const data = binaryBody();
    const content = Buffer.concat([b('From: a@example.org\r\nSubject: bin\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary="BB"\r\n\r\n--BB\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Transfer-Encoding: 8bit\r\n\r\n'),
      Buffer.from('Grüße\r\n', 'utf8'), b('--BB\r\nContent-Type: application/octet-stream\r\nContent-Transfer-Encoding: binary\r\n\r\n'), data, b('\r\n--BB--\r\n')]);
    const over = { bodyType: 'BINARYMIME' as const };

    await deliver(binary, content, {}, over);
    assert.deepEqual(binary.messages[0].raw, content, 'binary content byte for byte');
    assert.equal(binary.messages[0].mailParams.BODY, 'BINARYMIME');

    // CHUNKING and 8BITMIME but no BINARYMIME: the binary part only becomes quoted-printable, BODY=8BITMIME.
    await deliver(noBinary, content, {}, over);
    const m1 = noBinary.messages[0];
    assert.equal(m1.mailParams.BODY, '8BITMIME');
    const raw1 = m1.raw.toString('latin1');
    assert.ok(raw1.includes('Content-Transfer-Encoding: 8bit\r\n\r\n' + Buffer.from('Grüße', 'utf8').toString('latin1')), 'the 8-bit part stays');
    assert.ok(!raw1.includes('Content-Transfer-Encoding: binary'));
    const parsed1 = await simpleParser(m1.raw);
    assert.deepEqual(parsed1.attachments[0].content, data, 'the binary part decodes to its bytes');

    // No CHUNKING, no 8BITMIME: both parts become quoted-printable and go with DATA.
    await deliver(plain, content, {}, over);
    const m2 = plain.messages[0];
    assert.equal(m2.mailParams.BODY, undefined);
    assert.ok(!m2.raw.some((x) => x > 0x7f), '7-bit on the wire');
    const parsed2 = await simpleParser(m2.raw);
    assert.equal(parsed2.text, 'Grüße');
    assert.deepEqual(parsed2.attachments[0].content, data);

    const off = await deliver(plain, content, { disable_mime_output_conversion: 'yes' }, over);
    assert.equal(off.res.outcomes[0].state, 'bounced');
    assert.equal(off.res.outcomes[0].dsn, '5.6.3');
    assert.equal(plain.messages.length, 1, 'nothing sent');
  } finally {
    await binary.close();
    await noBinary.close();
    await plain.close();
  }
});

test('a cached connection carries BDAT again; a connection lost before the BDAT reply defers with 4.4.2', async () => {
  let drop = false;
  const sink: SmtpSink = await startSmtpSink({
    chunking: true,
    data: () => {
      if (drop) sink.dropConnections();
      return null;
    },
  });
  try {
    const content = b('Subject: x\r\n\r\nbody\r\n');
    const { log } = captureLog();
    const agent = new SmtpAgent({ config: makeConfig({ smtp_connection_cache_time_limit: '5s' }), log, readContent: contentReader(content) });
    const req = makeRequest({ nexthop: `[127.0.0.1]:${sink.port}`, location: { segment: 1, offset: 0, length: content.length }, headerLength: 14, size: content.length });
    for (let i = 0; i < 2; i++) assert.equal((await agent.deliver(req)).outcomes[0].state, 'delivered');
    assert.equal(sink.connections, 1, 'the second message went over the cached connection');
    assert.deepEqual(sink.messages.map((m) => m.bdat?.length), [1, 1]);
    drop = true;
    const lost = await agent.deliver(req);
    assert.equal(lost.outcomes[0].state, 'deferred');
    assert.equal(lost.outcomes[0].dsn, '4.4.2');
    assert.equal(lost.outcomes[0].reason, 'lost connection with 127.0.0.1[127.0.0.1] while sending message body');
    await agent.close();
  } finally {
    await sink.close();
  }
});
