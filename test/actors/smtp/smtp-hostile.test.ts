import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server, type Socket } from 'node:net';
import { SmtpAgent } from '../../../src/actors/smtp/smtp-agent.js';
import { captureLog, contentReader, makeConfig, makeRequest } from './smtp-test-kit.js';

/** A raw TCP server that runs `script` on each connection. */
async function rawServer(script: (socket: Socket) => void): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<Socket>();
  const server: Server = createServer((s) => {
    sockets.add(s);
    s.on('error', () => undefined);
    s.on('close', () => sockets.delete(s));
    script(s);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return {
    port: (server.address() as { port: number }).port,
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

function agent(): SmtpAgent {
  return new SmtpAgent({ config: makeConfig({ smtp_connection_cache_time_limit: '0s' }), log: captureLog().log, readContent: contentReader() });
}

test('a server that talks garbage and hangs up gets a deferral, not a crash', async () => {
  const srv = await rawServer((s) => s.end('HELLO THERE\r\n'));
  const a = agent();
  const res = await a.deliver(makeRequest({ nexthop: `[127.0.0.1]:${srv.port}` }));
  await a.close();
  await srv.close();
  assert.equal(res.outcomes[0].state, 'deferred');
  assert.match(res.outcomes[0].reason, /^host 127\.0\.0\.1\[127\.0\.0\.1\] refused to talk to me: HELLO THERE|^lost connection with 127\.0\.0\.1\[127\.0\.0\.1\] while receiving the initial server greeting$/);
});

test('a connection lost during the message body defers every recipient with 4.4.2', async () => {
  const srv = await rawServer((s) => {
    s.write('220 raw ESMTP\r\n');
    let buf = '';
    let inData = false;
    s.on('data', (d: Buffer) => {
      // Once in DATA, answer nothing more: the hang-up must come first.
      if (inData) return;
      buf += d.toString('latin1');
      const lines = buf.split('\r\n');
      buf = lines.pop()!;
      for (const line of lines) {
        const cmd = line.toUpperCase();
        if (cmd.startsWith('EHLO')) s.write('250-raw\r\n250 8BITMIME\r\n');
        else if (cmd.startsWith('DATA')) {
          inData = true;
          s.write('354 go ahead\r\n');
          // Hang up in the middle of the body.
          setTimeout(() => s.destroy(), 20);
          return;
        } else s.write('250 2.0.0 Ok\r\n');
      }
    });
  });
  const a = agent();
  const res = await a.deliver(makeRequest({ nexthop: `[127.0.0.1]:${srv.port}`, to: ['x@example.com', 'y@example.com'] }));
  await a.close();
  await srv.close();
  for (const o of res.outcomes) {
    assert.equal(o.state, 'deferred');
    assert.equal(o.dsn, '4.4.2');
    assert.match(o.reason, /^lost connection with 127\.0\.0\.1\[127\.0\.0\.1\] while sending/);
  }
});

test('bad recipient syntax bounces 5.1.3 without a connection; a malformed nexthop defers', async () => {
  const a = agent();
  const r1 = await a.deliver(makeRequest({ nexthop: '[127.0.0.1]:1', to: ['a b@example.com'] }));
  assert.deepEqual([r1.outcomes[0].state, r1.outcomes[0].dsn], ['bounced', '5.1.3']);
  const r2 = await a.deliver(makeRequest({ nexthop: '[oops' }));
  assert.deepEqual([r2.outcomes[0].state, r2.outcomes[0].dsn], ['deferred', '4.3.5']);
  const broken = new SmtpAgent({ config: makeConfig(), log: captureLog().log, readContent: async () => { throw new Error('segment 1 missing'); } });
  const r3 = await broken.deliver(makeRequest({ nexthop: '[127.0.0.1]:1' }));
  assert.deepEqual([r3.outcomes[0].state, r3.outcomes[0].dsn, r3.outcomes[0].reason], ['deferred', '4.3.0', 'error reading queue file: segment 1 missing']);
  await a.close();
  await broken.close();
});
