/**
 * The client name: the PTR name when it forward-confirms, else "unknown"; a
 * loopback client without dns_resolver_servers is "localhost". The shared
 * test DNS server has no PTR records, so this file answers PTR and A itself
 * (for 127.0.0.5: the resolver answers 127.0.0.1 from the hosts file).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import dnsPacket from 'dns-packet';
import { SmtpdDns } from '../../../src/actors/smtpd/smtpd-dns.js';
import { logLines, RawClient, startSmtpd, until } from './smtpd-test-kit.js';

/** A tiny UDP DNS server: `records` maps "name TYPE" to answers. */
async function ptrServer(records: Record<string, string[]>): Promise<{ port: number; close: () => Promise<void> }> {
  const socket = createSocket('udp4');
  socket.on('message', (msg, rinfo) => {
    let q: dnsPacket.Packet;
    try {
      q = dnsPacket.decode(msg);
    } catch {
      return;
    }
    const question = q.questions?.[0];
    if (!question) return;
    const data = records[`${question.name.toLowerCase()} ${question.type}`];
    const answers: dnsPacket.Answer[] = (data ?? []).map((d) => ({ type: question.type, name: question.name, ttl: 60, class: 'IN', data: d }) as dnsPacket.Answer);
    const reply = dnsPacket.encode({ type: 'response', id: q.id, flags: dnsPacket.AUTHORITATIVE_ANSWER | (data ? 0 : 3), questions: [question], answers });
    socket.send(reply, rinfo.port, rinfo.address);
  });
  socket.on('error', () => undefined);
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()));
  return { port: socket.address().port, close: () => new Promise<void>((r) => socket.close(() => r())) };
}

test('forward-confirmed PTR names are used; unconfirmed or missing ones are "unknown"', async () => {
  const srv = await ptrServer({
    '5.0.0.127.in-addr.arpa PTR': ['mail.client.example'],
    'mail.client.example A': ['127.0.0.5'],
    '2.0.0.127.in-addr.arpa PTR': ['liar.example'],
    'liar.example A': ['192.0.2.99'],
  });
  try {
    const dns = new SmtpdDns([`127.0.0.1:${srv.port}`]);
    assert.equal(await dns.clientName('127.0.0.5'), 'mail.client.example');
    assert.equal(await dns.clientName('127.0.0.2'), 'unknown');
    assert.equal(await dns.clientName('127.0.0.3'), 'unknown');
    assert.equal(await new SmtpdDns([]).clientName('127.0.0.1'), 'localhost');

    const h = await startSmtpd({ dns_resolver_servers: `127.0.0.1:${srv.port}` });
    try {
      // From 127.0.0.5: c-ares answers PTR for 127.0.0.1 from the hosts file.
      const c = await RawClient.open(h.port, '127.0.0.1', '127.0.0.5');
      assert.match((await c.reply())!, /^220 /);
      await c.cmd('EHLO client.test.example');
      await c.cmd('MAIL FROM:<s@test.example>');
      await c.cmd('RCPT TO:<u@mx.test.example>');
      await c.cmd('DATA');
      await c.cmd('Subject: x\r\n\r\ny\r\n.');
      c.close();
      assert.equal(h.submissions[0].client.name, 'mail.client.example');
      await until(() => logLines.some((l) => l.endsWith('connect from mail.client.example[127.0.0.5]')));
    } finally {
      await h.stop();
    }
  } finally {
    await srv.close();
  }
});
