/**
 * scheduler bench: messages per second through the scheduler alone:
 * arrived -> resolve -> deliver -> recordOutcomes -> removed, with every
 * dependency answering at once (so the figure is the scheduler's own cost,
 * log line formatting included, the log sink discarding). Cases: 1
 * recipient, 10 recipients at one destination, 10 recipients at 10
 * destinations. Each tinybench iteration pushes a batch of messages and
 * waits until all are removed.
 * Run: node <build>/perf/qmgr/scheduler.bench.js   (QMGR_BENCH_BATCH, default 2000)
 */
import { Bench } from 'tinybench';
import { MainConfig } from '../../src/config/main-config.js';
import type { DeliveryRequest, DeliveryResult } from '../../src/protocol/protocol.js';
import type { QueuedMessage, RecipientOutcome } from '../../src/store/store-types.js';
import { configureLogging, Logger } from '../../src/util/log.js';
import { Scheduler } from '../../src/actors/qmgr/qmgr-scheduler.js';

const BATCH = Number(process.env.QMGR_BENCH_BATCH ?? 2000);

let removed = 0;
let onRemoved: (() => void) | undefined;
configureLogging({
  sink: {
    write: (line) => {
      if (line.endsWith(': removed')) {
        removed++;
        onRemoved?.();
      }
    },
    flush: () => undefined,
    reopen: () => undefined,
  },
});

const live = new Map<string, number>();
const scheduler = new Scheduler({
  config: new MainConfig({}, process.cwd()),
  log: new Logger('qmgr', 'bench'),
  resolve: (address) => {
    const domain = address.slice(address.indexOf('@') + 1);
    return Promise.resolve({ addressClass: 'relay', transport: 'smtp', nexthop: domain, recipient: address });
  },
  deliver: (_transport, req: DeliveryRequest): Promise<DeliveryResult> =>
    Promise.resolve({
      outcomes: req.recipients.map((r) => ({ index: r.index, state: 'delivered' as const, dsn: '2.0.0', reason: '250 ok', relay: 'sink' })),
      connectSeconds: 0,
      transmitSeconds: 0,
    }),
  recordOutcomes: (queueId: string, outcomes: RecipientOutcome[]) => {
    const left = (live.get(queueId) ?? 0) - outcomes.length;
    live.set(queueId, left);
    if (left <= 0) live.delete(queueId);
    return Promise.resolve({ finished: left <= 0 });
  },
  notify: () => Promise.resolve({}),
});

let seq = 0;
function message(rcpts: string[]): QueuedMessage {
  const queueId = `B${(seq++).toString(36).padStart(8, '0')}`;
  live.set(queueId, rcpts.length);
  return {
    queueId,
    arrivalTime: Date.now(),
    sender: 'a@bench.example',
    recipients: rcpts.map((address) => ({ address, state: 'ready', attempts: 0 })),
    client: { name: 'localhost', addr: '127.0.0.1', protocol: 'ESMTP' },
    hold: false,
    headerLength: 100,
    size: 1024,
    location: { segment: 1, offset: 0, length: 1024 },
  };
}

function batch(makeRcpts: (i: number) => string[]): () => Promise<void> {
  return () =>
    new Promise<void>((resolve) => {
      const target = removed + BATCH;
      onRemoved = () => {
        if (removed >= target) resolve();
      };
      for (let i = 0; i < BATCH; i++) scheduler.arrived(message(makeRcpts(i)));
    });
}

const one = (i: number) => [`u${i}@d${i % 50}.example`];
const tenOneSite = (i: number) => Array.from({ length: 10 }, (_, k) => `u${i}.${k}@d${i % 50}.example`);
const tenSites = (i: number) => Array.from({ length: 10 }, (_, k) => `u${i}@d${(i + k) % 50}.example`);

const bench = new Bench({ iterations: 10, warmupIterations: 2, time: 0, warmupTime: 0 });
bench
  .add(`1 recipient (batch ${BATCH})`, batch(one))
  .add(`10 recipients, 1 destination (batch ${BATCH})`, batch(tenOneSite))
  .add(`10 recipients, 10 destinations (batch ${BATCH})`, batch(tenSites));
await bench.run();

const rows = bench.tasks.map((t) => {
  const r = t.result as unknown as { latency?: { mean: number }; period?: number; mean?: number };
  const meanMs = r.latency?.mean ?? r.period ?? r.mean ?? NaN;
  return { case: t.name, 'ms per batch': meanMs.toFixed(1), 'messages/s': Math.round((BATCH / meanMs) * 1000) };
});
console.table(rows);
scheduler.stop();
