/**
 * append-driver-actor: closed-loop submitters inside an actor, appending to
 * the real journal actor through the runtime (msgpack on a MessageChannel,
 * batched posts), so the latency is the one smtpd sees: from the call to the
 * journal's acknowledgement after fdatasync.
 */
import { runActor } from '../../src/runtime/actor.js';
import { QueueIdGenerator } from '../../src/store/store-queue-id.js';
import { message, now, percentile } from './append-via-thread-common.js';

export interface AppendDriverProtocol {
  run: {
    req: { submitters: number; warmMs: number; caseMs: number; size: number };
    rep: { appendsPerSecond: number; p50: number; p99: number; p999: number; max: number };
  };
}

declare module '../../src/protocol/protocol.js' {
  interface Protocols {
    'append-driver': AppendDriverProtocol;
  }
}

runActor('append-driver', (ctx) => {
  const journal = ctx.peers('journal');
  const ids = new QueueIdGenerator(60);
  return {
    run: async ({ submitters, warmMs, caseMs, size }) => {
      const latencies: number[] = [];
      const start = now();
      const measureFrom = start + warmMs;
      const end = measureFrom + caseMs;
      const submitter = async (): Promise<void> => {
        while (now() < end) {
          const t0 = now();
          await journal.call('append', { message: message(ids.next(), size) }, { timeoutMs: 30_000 });
          const t1 = now();
          if (t0 >= measureFrom && t1 <= end) latencies.push(t1 - t0);
        }
      };
      await Promise.all(Array.from({ length: submitters }, submitter));
      const sorted = Float64Array.from(latencies).sort();
      const r = (v: number): number => Math.round(v * 100) / 100;
      return {
        appendsPerSecond: Math.round(latencies.length / (caseMs / 1000)),
        p50: r(percentile(sorted, 0.5)),
        p99: r(percentile(sorted, 0.99)),
        p999: r(percentile(sorted, 0.999)),
        max: r(sorted[sorted.length - 1] ?? 0),
      };
    },
  };
});
