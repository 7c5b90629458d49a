/**
 * e2e-run: the end-to-end benchmark. For every round, connection mode and
 * MTA: a fresh sink, the MTA started relaying to it, the generator's N
 * messages through it, then the wait until the sink has every accepted
 * message (or no progress for `stallMs`). Reports the accept rate (250s per
 * second), the end-to-end rate (until the sink had them all), the 250's
 * latency percentiles, lost and duplicated messages by token, and the MTA's
 * CPU time and peak memory. Where the MTA tells the CPU of each of its
 * threads (Postrider's status), the CPU per message per role over the same
 * window (role-usage), and always the bench process's own CPU per message
 * (generator and sink, which share the machine). MTAs alternate within a round (A B, then B A),
 * so a noisy machine hurts each alike; ratios are taken within a round.
 * An MTA that fails to start ends the run with its one-line error.
 */
import { percentile } from '../store/append-via-thread-common.js';
import { startBenchSink, type BenchSink } from './bench-sink.js';
import type { ProcessUsage, SourceProgress } from './harness-types.js';
import { mtaName, startMta, type MtaSpec } from './mta-under-test.js';
import { startUsageSampler } from './process-usage.js';
import { roleUsage, type RoleUsage, type ThreadReading } from './role-usage.js';
import { runSource } from './smtp-source.js';
import { accountTokens } from './token-account.js';

export type ConnectionMode = 'kept' | 'per-connection';

export interface RunOptions {
  count: number;
  sessions: number;
  size: number;
  recipients: number;
  uniqueRecipients: boolean;
  /** Offered load in messages per second (open loop); absent: as fast as the MTA answers. */
  rate?: number;
  /**
   * Messages sent through the MTA before the measured window, in the same
   * mode and at the same rate, and left out of its latency, rates and CPU:
   * a freshly started daemon runs its code unoptimised for its first
   * seconds, which a long-running MTA never does again. They still count
   * in lost and duplicated.
   */
  warmup?: number;
  modes: ConnectionMode[];
  mtas: MtaSpec[];
  rounds: number;
  /** Give up waiting for the sink after this long without a new message; default 30 s. */
  stallMs?: number;
  /** Progress of the case in hand, about four times a second. */
  onProgress?: (line: string) => void;
  /** The CPUs the bench process (generator and sink) was pinned to, for the record and the scaling check. */
  sourceCpus?: string;
}

/** One measured case: one MTA, one mode, one round. */
export interface CaseResult {
  mta: string;
  mode: ConnectionMode;
  round: number;
  count: number;
  size: number;
  sessions: number;
  recipients: number;
  accepted: number;
  errors: number;
  /** The first few distinct error replies, for the reader. */
  errorSamples: string[];
  acceptPerSecond: number;
  endToEndPerSecond: number;
  latencyMs: { p50: number; p99: number; p999: number };
  lost: number;
  duplicated: number;
  unexpected: number;
  delivered: number;
  sinkConnections: number;
  /** Seconds from the first connection to the last 250 / to the sink having them all. */
  acceptSeconds: number;
  endToEndSeconds: number;
  mtaCpuSeconds?: number;
  /** MTA CPU milliseconds per delivered message. */
  mtaCpuMsPerMessage?: number;
  mtaPeakRssMiB?: number;
  /** Peak proportional set size: for an MTA of many processes, RSS counts shared pages once per process. */
  mtaPeakPssMiB?: number;
  /** The MTA's CPU list when it ran pinned (--cpus). */
  cpus?: string;
  /** CPU per message per role of the MTA, over the window from before the first connection to the sink having every message. */
  roles?: RoleUsage[];
  /** CPU milliseconds per message of the bench process itself: the generator and the sink. */
  benchCpuMsPerMessage?: number;
  /** The CPU list the bench process ran on (--source-cpus), when pinned. */
  sourceCpus?: string;
  /** Messages sent before the measured window (--warmup); 0 when none. */
  warmup?: number;
}

async function waitForSink(sink: BenchSink, want: number, stallMs: number): Promise<void> {
  let seen = sink.stats().messages;
  let lastProgress = Date.now();
  while (sink.stats().messages < want && Date.now() - lastProgress < stallMs) {
    await new Promise((r) => setTimeout(r, 20));
    const now = sink.stats().messages;
    if (now !== seen) {
      seen = now;
      lastProgress = Date.now();
    }
  }
}

function progressLine(label: string, p: SourceProgress, sinkCount: number, count: number): string {
  const rate = p.elapsedMs > 0 ? (p.accepted / p.elapsedMs) * 1000 : 0;
  return `${label}: sent ${p.sent}/${count}, 250 ${p.accepted}, errors ${p.errors}, at sink ${sinkCount}, ${rate.toFixed(0)} msg/s`;
}

/** How many of these accepted messages reached the sink. */
function deliveredAmong(accepted: Array<{ token: string }>, received: ReadonlyMap<string, number>): number {
  let n = 0;
  for (const t of new Set(accepted.map((a) => a.token))) if ((received.get(t) ?? 0) > 0) n++;
  return n;
}

/** Runs one case; the sink is fresh for it. */
async function runCase(spec: MtaSpec, mode: ConnectionMode, round: number, opts: RunOptions): Promise<CaseResult> {
  const sink = await startBenchSink({});
  const name = mtaName(spec);
  let mta;
  try {
    mta = await startMta(spec, sink.port);
  } catch (err) {
    await sink.close();
    throw err;
  }
  let usage: ProcessUsage | undefined;
  try {
    const label = `${name} ${mode} round ${round}`;
    const load = (count: number, what: string) => ({
      host: '127.0.0.1',
      port: mta.port,
      count,
      sessions: opts.sessions,
      size: opts.size,
      recipients: opts.recipients,
      uniqueRecipients: opts.uniqueRecipients,
      messagesPerConnection: mode === 'per-connection' ? 1 : 0,
      rate: opts.rate,
      onProgress: opts.onProgress && ((p: SourceProgress) => opts.onProgress?.(progressLine(what, p, sink.stats().messages, count))),
    });
    const warm = opts.warmup ? await runSource(load(opts.warmup, `${label} warm-up`)) : undefined;
    if (warm) await waitForSink(sink, warm.accepted.length, opts.stallMs ?? 30_000);
    const atSinkBefore = sink.stats().messages;
    // Once a second: the CPU sum is exact at any interval (cumulative counters), and a
    // sample costs the bench process ~15 ms here (a /proc scan and smaps_rollup), which at
    // 10 a second was most of the bench process's CPU and a share of the cores it measures.
    const sampler = mta.pid !== undefined ? startUsageSampler(mta.pid, 1000, { pss: true }) : undefined;
    const threadsBefore: ThreadReading | undefined = await mta.readThreads?.();
    const benchCpu0 = process.cpuUsage();
    const t0 = performance.now();
    const source = await runSource(load(opts.count, label));
    const tAccepted = performance.now();
    await waitForSink(sink, atSinkBefore + source.accepted.length, opts.stallMs ?? 30_000);
    const tDelivered = performance.now();
    const benchCpu = process.cpuUsage(benchCpu0);
    const threadsAfter: ThreadReading | undefined = threadsBefore ? await mta.readThreads?.() : undefined;
    usage = sampler?.stop();
    // The warm-up's messages count for lost and duplicated, not for the window's rates and CPU.
    const account = accountTokens(
      [...(warm?.accepted ?? []), ...source.accepted].map((a) => a.token),
      sink.tokens,
    );
    const delivered = warm ? deliveredAmong(source.accepted, sink.tokens) : account.delivered;
    const latencies = source.accepted.map((a) => a.latencyMs).sort((a, b) => a - b);
    const acceptSeconds = (tAccepted - t0) / 1000;
    const endToEndSeconds = (tDelivered - t0) / 1000;
    return {
      mta: name,
      mode,
      round,
      count: opts.count,
      size: opts.size,
      sessions: opts.sessions,
      recipients: opts.recipients,
      accepted: source.accepted.length,
      errors: source.errors.length + (warm?.errors.length ?? 0),
      errorSamples: [...new Set([...(warm?.errors ?? []), ...source.errors].map((e) => `${e.stage}: ${e.reply}`))].slice(0, 3),
      acceptPerSecond: source.accepted.length / acceptSeconds,
      endToEndPerSecond: delivered / endToEndSeconds,
      latencyMs: { p50: percentile(latencies, 0.5), p99: percentile(latencies, 0.99), p999: percentile(latencies, 0.999) },
      lost: account.lost.length,
      duplicated: account.duplicated.length,
      unexpected: account.unexpected.length,
      delivered,
      sinkConnections: sink.stats().connections,
      acceptSeconds,
      endToEndSeconds,
      mtaCpuSeconds: usage?.cpuSeconds,
      mtaCpuMsPerMessage: usage && delivered > 0 ? (usage.cpuSeconds * 1000) / delivered : undefined,
      mtaPeakRssMiB: usage ? usage.peakRssBytes / 1024 / 1024 : undefined,
      mtaPeakPssMiB: usage?.peakPssBytes !== undefined ? usage.peakPssBytes / 1024 / 1024 : undefined,
      cpus: spec.kind === 'direct' ? undefined : spec.cpus,
      roles: threadsBefore && threadsAfter ? roleUsage(threadsBefore, threadsAfter, delivered) : undefined,
      benchCpuMsPerMessage: delivered > 0 ? (benchCpu.user + benchCpu.system) / 1000 / delivered : undefined,
      sourceCpus: opts.sourceCpus,
      warmup: opts.warmup ?? 0,
    };
  } finally {
    await mta.stop();
    await sink.close();
  }
}

/** Every case of the run, rounds outermost; within a round the MTAs alternate order. */
export async function runBench(opts: RunOptions): Promise<CaseResult[]> {
  const results: CaseResult[] = [];
  for (let round = 1; round <= opts.rounds; round++) {
    const order = round % 2 === 1 ? opts.mtas : [...opts.mtas].reverse();
    for (const mode of opts.modes) {
      for (const spec of order) results.push(await runCase(spec, mode, round, opts));
    }
  }
  return results;
}
