/**
 * smtp-delivery bench: deliveries per second from one SmtpAgent to a local
 * sink, 1 KiB messages, one recipient each, with the connection cache on
 * (reuse) and off (a new connection per delivery), sequential and with 8
 * requests in flight. The sink runs in its own thread. Run: node <build>/perf/smtp/smtp-delivery.bench.js
 */
import { SmtpAgent } from '../../src/actors/smtp/smtp-agent.js';
import { MainConfig } from '../../src/config/main-config.js';
import type { DeliveryRequest } from '../../src/protocol/protocol.js';
import { configureLogging, Logger } from '../../src/util/log.js';
import { startFastSinkThread } from './fast-sink.js';

const BODY = Buffer.from(
  'From: a@example.org\r\nTo: b@example.com\r\nSubject: bench\r\n\r\n' + 'x'.repeat(70).concat('\r\n').repeat(13),
);

function request(nexthop: string, i: number): DeliveryRequest {
  const now = Date.now();
  return {
    queueId: `B${i}`, sender: 'a@example.org', arrivalTime: now, activeTime: now,
    location: { segment: 0, offset: 0, length: BODY.length }, headerLength: BODY.indexOf('\r\n\r\n') + 4,
    size: BODY.length, transport: 'smtp', nexthop, recipients: [{ address: `b${i}@example.com`, index: 0 }],
  };
}

async function run(label: string, reuse: boolean, concurrency: number, total: number): Promise<void> {
  const sink = await startFastSinkThread();
  const agent = new SmtpAgent({
    config: new MainConfig({ myhostname: 'bench.test', smtp_connection_cache_time_limit: reuse ? '10s' : '0s' }, process.cwd()),
    log: new Logger('smtp', 'bench'),
    readContent: async () => BODY,
  });
  const nexthop = `[127.0.0.1]:${sink.port}`;
  // Warm-up, so JIT and the first connection are not counted.
  await agent.deliver(request(nexthop, -1));
  let next = 0;
  let failed = 0;
  const start = process.hrtime.bigint();
  await Promise.all(Array.from({ length: concurrency }, async () => {
    while (next < total) {
      const i = next++;
      const res = await agent.deliver(request(nexthop, i));
      if (res.outcomes[0].state !== 'delivered') failed++;
    }
  }));
  const seconds = Number(process.hrtime.bigint() - start) / 1e9;
  await agent.close();
  const { connections } = await sink.stop();
  console.log(`${label.padEnd(34)} ${(total / seconds).toFixed(0).padStart(6)} deliveries/s  (${total} in ${seconds.toFixed(2)} s, ${connections} connections, ${failed} failed)`);
}

async function main(): Promise<void> {
  // Delivery log lines would measure the terminal; drop them.
  configureLogging({ sink: { write: () => undefined, flush: () => undefined, reopen: () => undefined } });
  const total = Number(process.env.BENCH_DELIVERIES ?? 2000);
  await run('reuse, 1 in flight', true, 1, total);
  await run('reuse, 8 in flight', true, 8, total);
  await run('no reuse, 1 in flight', false, 1, Math.min(total, 1000));
  await run('no reuse, 8 in flight', false, 8, Math.min(total, 1000));
}

void main();
