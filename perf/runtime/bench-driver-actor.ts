/**
 * bench-driver-actor: runs the tinybench round-trip tasks inside an actor,
 * against its echo peer, so the figures are actor-to-actor (both ends worker
 * threads, msgpack on a MessageChannel), not main-thread-to-actor.
 */
import { Bench } from 'tinybench';
import { runActor } from '../../src/runtime/actor.js';

export interface BenchDriverProtocol {
  run: { req: { timeMs: number }; rep: { rows: Array<{ task: string; roundTripsPerSecond: number; meanLatencyMs: number; samples: number }> } };
}

declare module '../../src/protocol/protocol.js' {
  interface Protocols {
    'bench-driver': BenchDriverProtocol;
  }
}

runActor('bench-driver', (ctx) => {
  const echo = ctx.peers('bench-echo');
  return {
    run: async ({ timeMs }) => {
      const small = new Uint8Array(200).fill(1);
      const large = new Uint8Array(64 * 1024).fill(2);
      const one = (data: Uint8Array) => async () => {
        const r = await echo.call('echo', { data });
        if (r.data.length !== data.length) throw new Error('short reply');
      };
      const many = (data: Uint8Array) => async () => {
        const calls = [];
        for (let i = 0; i < 64; i++) calls.push(echo.call('echo', { data }));
        const rs = await Promise.all(calls);
        if (rs.some((r) => r.data.length !== data.length)) throw new Error('short reply');
      };
      const bench = new Bench({ time: timeMs });
      bench
        .add('200 B, 1 in flight', one(small))
        .add('200 B, 64 in flight', many(small))
        .add('64 KiB, 1 in flight', one(large))
        .add('64 KiB, 64 in flight', many(large));
      await bench.run();
      const rows = bench.tasks.map((t) => {
        const r = t.result as unknown as { latency?: { mean: number; samplesCount?: number }; throughput?: { mean: number } };
        const perOp = t.name.includes('64 in flight') ? 64 : 1;
        const mean = r.latency?.mean ?? NaN;
        return {
          task: t.name,
          roundTripsPerSecond: Math.round((1000 / mean) * perOp),
          meanLatencyMs: Number(mean.toFixed(4)),
          samples: r.latency?.samplesCount ?? 0,
        };
      });
      return { rows };
    },
  };
});
