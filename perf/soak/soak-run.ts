/**
 * soak-run: the soak. The real daemon (test helper, temporary
 * configuration, fault injection on) relays to a sink that defers and
 * refuses some mail by script (soak-sink); bounces go to the sender's
 * domain, which relays to the same sink, where they are recognised. Mixed
 * load (soak-load) runs for `minutes`; every `faultEverySec` a fault from
 * the rotation (soak-faults) is injected, every `reloadEverySec` the
 * daemon is reloaded (`postrider reload`), every `sampleEverySec` its RSS
 * and queue size are sampled. A daemon exit that the soak did not cause is
 * counted and the daemon started again, so the soak goes on. Then the load
 * stops, the queue drains, and every accepted recipient is accounted for
 * (soak-account).
 *
 * runSoak() rejects only when the daemon or the sink cannot start.
 */
import { copyFileSync, readFileSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { controlRequest } from '../../src/cli/control-client.js';
import { startDaemon, type RunningDaemon } from '../../test/helpers/daemon.js';
import { readTree } from '../harness/process-usage.js';
import { accountSoak, allAccounted, type SoakAccount } from './soak-account.js';
import { mountQueueFs, type QueueFs } from './soak-disk.js';
import { describeFault, faultAt, type Fault, type SpecialFaults } from './soak-faults.js';
import { startLoad } from './soak-load.js';
import { startSoakSink } from './soak-sink.js';

export interface SoakOptions {
  minutes: number;
  /** Messages per second offered in all (default 10). */
  rate?: number;
  keptSessions?: number;
  newSessions?: number;
  /** Largest message (default 5 MiB). */
  maxSize?: number;
  /** A fault every this many seconds (default 30; 0: none). */
  faultEverySec?: number;
  /** Every Nth fault kills the whole daemon (default 8; 0: never). */
  sigkillEvery?: number;
  /**
   * Give the queue a file system of its own (a tmpfs: root needed) and,
   * every `diskFullEvery`-th fault (default 8, between the SIGKILLs), fill
   * it for `diskFullHoldSec` (default 10). Without root the fault is
   * skipped and the report says why.
   */
  diskFull?: boolean;
  diskFullEvery?: number;
  diskFullHoldSec?: number;
  /** Size of that file system in MiB (default 1024). */
  queueFsMiB?: number;
  /** A fixed list of faults instead of the rotation, each injected once, in order; the load goes on until the last is done. */
  faultPlan?: Fault[];
  /** A reload every this many seconds (default 120; 0: none). */
  reloadEverySec?: number;
  /** RSS and queue samples every this many seconds (default 10). */
  sampleEverySec?: number;
  /** How long the queue may take to drain after the load (default 300 s). */
  drainTimeoutSec?: number;
  seed?: number;
  /** Keep the daemon's mail log here (the temporary directory is removed at the end). */
  keepLogAs?: string;
  onProgress?: (line: string) => void;
}

export interface RssSample {
  /** Seconds since the start of the load. */
  t: number;
  rssMiB: number;
  queue: number | undefined;
  /** Which daemon process (1 = the first; a SIGKILL starts the next). */
  incarnation: number;
}

export interface FaultRecord {
  t: number;
  fault: string;
  ok: boolean;
  error?: string;
  /** For a SIGKILL: seconds until the daemon served again. */
  downSec?: number;
}

export interface SoakReport {
  runId: string;
  /** Why the full-disk fault did not run, when it was asked for and could not. */
  diskFullSkipped?: string;
  minutes: number;
  rate: number;
  loadSeconds: number;
  drainSeconds: number;
  drained: boolean;
  sent: number;
  connections: number;
  acceptedMiB: number;
  account: Omit<SoakAccount, 'lost' | 'misrouted' | 'duplicated'> & { lost: number; misrouted: number; duplicated: number };
  /** The first lost / misrouted / duplicated (token and recipient), for the reader. */
  examples: { lost: string[]; misrouted: string[]; duplicated: string[]; afterRefusal: string[] };
  sink: { messages: number; strays: number; refusals: Record<string, number> };
  faults: FaultRecord[];
  faultsFailed: number;
  reloads: number;
  reloadsFailed: number;
  /** Actor restarts over every daemon process (the supervisor's "restarted in" log lines), and by role. */
  restarts: number;
  restartsByRole: Record<string, number>;
  /** Daemon exits the soak did not cause. */
  daemonExits: number;
  rss: {
    startMiB: number;
    endMiB: number;
    maxMiB: number;
    /** Least-squares slope of the per-minute minimum RSS in the longest-lived daemon process, MiB per minute. */
    trendMiBPerMin: number;
    samples: RssSample[];
  };
  /** Client-side refusals and failures, by stage and reply. */
  clientErrors: Record<string, number>;
  /** Warning lines of the daemon's log, grouped (numbers and ids taken out). */
  logWarnings: Record<string, number>;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

interface Status {
  actors: Array<{ role: string; instance: number; restarts: number }>;
  queue: { total: number };
}

async function status(queueDir: string): Promise<Status | undefined> {
  try {
    return (await controlRequest(queueDir, 'status', [], undefined, { timeoutMs: 10_000 })) as Status;
  } catch {
    return undefined;
  }
}

function rssMiB(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const s = readTree(pid);
    return s.pids.length > 0 ? s.rssBytes / 1024 / 1024 : undefined;
  } catch {
    return undefined;
  }
}

/** Least-squares slope of y over x; 0 with fewer than two points. */
function slope(points: Array<[number, number]>): number {
  if (points.length < 2) return 0;
  const n = points.length;
  const mx = points.reduce((s, p) => s + p[0], 0) / n;
  const my = points.reduce((s, p) => s + p[1], 0) / n;
  let num = 0;
  let den = 0;
  for (const [x, y] of points) {
    num += (x - mx) * (y - my);
    den += (x - mx) ** 2;
  }
  return den === 0 ? 0 : num / den;
}

/** The RSS trend: per-minute minima (a fault's spike does not count) of the longest-lived process, slope per minute. */
function rssTrend(samples: RssSample[]): number {
  const byInc = new Map<number, RssSample[]>();
  for (const s of samples) byInc.set(s.incarnation, [...(byInc.get(s.incarnation) ?? []), s]);
  let longest: RssSample[] = [];
  for (const list of byInc.values()) if (list.length > longest.length) longest = list;
  // the first minute of a process is its warm-up
  const t0 = longest[0]?.t ?? 0;
  const minima = new Map<number, number>();
  for (const s of longest) {
    if (s.t - t0 < 60) continue;
    const minute = Math.floor(s.t / 60);
    minima.set(minute, Math.min(minima.get(minute) ?? Infinity, s.rssMiB));
  }
  return slope([...minima.entries()]);
}

function normalise(text: string): string {
  return text.replace(/[0-9A-Za-z]{12,}/g, 'ID').replace(/\d+/g, 'N').replace(/<[^>]*>/g, '<..>').slice(0, 120);
}

/** Runs the soak; see the file comment. */
export async function runSoak(opts: SoakOptions): Promise<SoakReport> {
  const rate = opts.rate ?? 10;
  const faultEvery = (opts.faultEverySec ?? 30) * 1000;
  const reloadEvery = (opts.reloadEverySec ?? 120) * 1000;
  const sampleEvery = (opts.sampleEverySec ?? 10) * 1000;
  const sigkillEvery = opts.sigkillEvery ?? 8;
  const progress = opts.onProgress ?? (() => undefined);
  const runId = randomBytes(3).toString('hex');
  const seed = opts.seed ?? randomBytes(4).readUInt32LE(0);

  let queueFs: QueueFs | undefined;
  let diskFullSkipped: string | undefined;
  if (opts.diskFull) {
    const fs = mountQueueFs(opts.queueFsMiB ?? 1024);
    if (typeof fs === 'string') diskFullSkipped = fs;
    else queueFs = fs;
  }
  const specials: SpecialFaults = { sigkillEvery, diskFullEvery: queueFs ? (opts.diskFullEvery ?? 8) : 0 };
  const sink = await startSoakSink();
  let daemon: RunningDaemon;
  try {
    daemon = await startDaemon({
      params: {
        ...(queueFs ? { queue_directory: queueFs.dir } : {}),
        relayhost: `[127.0.0.1]:${sink.port}`,
        mydestination: '',
        minimal_backoff_time: '2s',
        maximal_backoff_time: '10s',
        queue_run_delay: '2s',
        default_destination_concurrency_limit: '10',
        debug_fault_injection: 'yes',
      },
    });
  } catch (err) {
    await sink.close();
    queueFs?.unmount();
    throw err;
  }
  const queueDir = queueFs?.dir ?? daemon.queueDir;
  const first = await status(queueDir);
  const roles = new Map<string, number>();
  for (const a of first?.actors ?? []) roles.set(a.role, Math.max(roles.get(a.role) ?? 0, a.instance));

  let incarnation = 1;
  let killing = false;
  let daemonExits = 0;
  const faults: FaultRecord[] = [];
  const samples: RssSample[] = [];
  let reloads = 0;
  let reloadsFailed = 0;

  const load = startLoad({
    host: '127.0.0.1',
    port: daemon.port,
    rate,
    keptSessions: opts.keptSessions ?? 3,
    newSessions: opts.newSessions ?? 2,
    maxSize: opts.maxSize ?? 5 * 1024 * 1024,
    seed,
    runId,
  });
  const t0 = Date.now();
  const loadEnd = t0 + opts.minutes * 60_000;
  let nextFault = faultEvery > 0 ? t0 + faultEvery : Infinity;
  let nextReload = reloadEvery > 0 ? t0 + reloadEvery : Infinity;
  let nextSample = t0;
  let faultIndex = 0;
  const secs = (): number => Math.round((Date.now() - t0) / 100) / 10;

  const sample = async (): Promise<void> => {
    const rss = rssMiB(daemon.child.pid);
    const s = await status(queueDir);
    if (rss !== undefined) samples.push({ t: secs(), rssMiB: Math.round(rss * 10) / 10, queue: s?.queue.total, incarnation });
  };

  /** Restarts a daemon that exited without the soak killing it. */
  const watch = async (): Promise<void> => {
    if (killing || daemon.child.exitCode === null && daemon.child.signalCode === null) return;
    daemonExits++;
    progress(`${secs()}s: the daemon exited by itself (${daemon.child.exitCode ?? daemon.child.signalCode}); starting it again`);
    incarnation++;
    try {
      await daemon.restart();
    } catch (err) {
      progress(`restart failed: ${(err as Error).message}`);
    }
  };

  const inject = async (f: Fault): Promise<FaultRecord> => {
    const rec: FaultRecord = { t: secs(), fault: describeFault(f), ok: true };
    if (f.kind === 'disk-full') {
      if (!queueFs) return { ...rec, ok: false, error: diskFullSkipped ?? 'the queue has no file system of its own' };
      try {
        const bytes = await queueFs.fill((opts.diskFullHoldSec ?? 10) * 1000);
        rec.fault += ` (${Math.round(bytes / 1048576)} MiB, held ${opts.diskFullHoldSec ?? 10}s)`;
      } catch (err) {
        rec.ok = false;
        rec.error = (err as Error).message;
      }
      return rec;
    }
    if (f.kind === 'sigkill') {
      killing = true;
      const started = Date.now();
      await daemon.kill('SIGKILL');
      incarnation++;
      try {
        await daemon.restart();
        rec.downSec = Math.round((Date.now() - started) / 100) / 10;
      } catch (err) {
        rec.ok = false;
        rec.error = (err as Error).message;
      }
      killing = false;
      return rec;
    }
    const r = await daemon.cli(['fault', f.role, String(f.instance), f.fault]);
    if (r.code !== 0) {
      rec.ok = false;
      rec.error = r.stderr.trim().split('\n').pop();
    }
    return rec;
  };

  const planLeft = (): boolean => opts.faultPlan !== undefined && faultIndex < opts.faultPlan.length;
  while (Date.now() < loadEnd || planLeft()) {
    await watch();
    const now = Date.now();
    if (now >= nextSample) {
      nextSample += sampleEvery;
      await sample();
      const last = samples.at(-1);
      progress(`${secs()}s: sent ${load.state.sent}, accepted ${load.state.accepted.length}, at sink ${sink.messages}, queue ${last?.queue ?? '?'}, rss ${last?.rssMiB ?? '?'} MiB`);
    }
    if (now >= nextFault && (!opts.faultPlan || planLeft())) {
      nextFault += faultEvery;
      const f = opts.faultPlan ? opts.faultPlan[faultIndex] : faultAt(faultIndex, roles, specials);
      faultIndex++;
      const rec = await inject(f);
      faults.push(rec);
      progress(`${rec.t}s: fault ${rec.fault}${rec.ok ? '' : ` FAILED: ${rec.error}`}${rec.downSec !== undefined ? ` (served again after ${rec.downSec}s)` : ''}`);
    }
    if (now >= nextReload) {
      nextReload += reloadEvery;
      const r = await daemon.cli(['reload']);
      reloads++;
      if (r.code !== 0) reloadsFailed++;
      progress(`${secs()}s: reload${r.code === 0 ? '' : ` FAILED: ${r.stderr.trim()}`}`);
    }
    await sleep(250);
  }

  progress(`${secs()}s: load stopped; waiting for the queue to drain`);
  await load.stop();
  const loadSeconds = secs();
  const drainStart = Date.now();
  const drainEnd = drainStart + (opts.drainTimeoutSec ?? 300) * 1000;
  let drained = false;
  let lastNote = 0;
  while (Date.now() < drainEnd) {
    await watch();
    const s = await status(queueDir);
    if (s?.queue.total === 0 && allAccounted(load.state.accepted, sink.delivered, sink.bounced)) {
      drained = true;
      break;
    }
    if (Date.now() - lastNote > 10_000) {
      lastNote = Date.now();
      progress(`${secs()}s: draining, queue ${s?.queue.total ?? '?'}`);
    }
    await sleep(500);
  }
  const drainSeconds = Math.round((Date.now() - drainStart) / 100) / 10;
  await sample();
  await daemon.stop();
  await sink.close();
  // one log file across every daemon process (each appends)
  let logText = '';
  try {
    logText = readFileSync(daemon.logFile, 'utf8');
  } catch {
    // no log
  }
  if (opts.keepLogAs) {
    try {
      copyFileSync(daemon.logFile, opts.keepLogAs);
    } catch {
      // nothing to keep
    }
  }
  rmSync(daemon.dir, { recursive: true, force: true });
  queueFs?.unmount();

  const account = accountSoak(load.state.accepted, sink.delivered, sink.bounced, load.state.failedAfterDot, load.state.refusedAtDot);
  // restarts from the log: status counters start again with each daemon process and each reload
  const restartsByRole: Record<string, number> = {};
  const logWarnings: Record<string, number> = {};
  for (const line of logText.split('\n')) {
    const restarted = /: ([a-z-]+)\[\d+\] restarted in \d+ ms/.exec(line);
    if (restarted) restartsByRole[restarted[1]] = (restartsByRole[restarted[1]] ?? 0) + 1;
    const m = /: (warning|fatal|panic): (.*)$/.exec(line);
    if (!m) continue;
    const key = `${m[1]}: ${normalise(m[2])}`;
    logWarnings[key] = (logWarnings[key] ?? 0) + 1;
  }
  const firstIncarnation = samples.filter((s) => s.incarnation === 1 && s.t >= 60);
  const rssValues = samples.map((s) => s.rssMiB);
  return {
    runId,
    diskFullSkipped,
    minutes: opts.minutes,
    rate,
    loadSeconds,
    drainSeconds,
    drained,
    sent: load.state.sent,
    connections: load.state.connections,
    acceptedMiB: Math.round((load.state.bytesAccepted / 1024 / 1024) * 10) / 10,
    account: {
      ...account,
      lost: account.lost.length,
      misrouted: account.misrouted.length,
      duplicated: account.duplicated.length,
    },
    examples: {
      lost: account.lost.slice(0, 10).map((x) => `${x.token} ${x.recipient}`),
      misrouted: account.misrouted.slice(0, 10).map((x) => `${x.token} ${x.recipient} (should be ${x.expected})`),
      duplicated: account.duplicated.slice(0, 10).map((x) => `${x.token} ${x.recipient} x${x.copies}`),
      afterRefusal: account.unexpectedAfterRefusal.slice(0, 10),
    },
    sink: { messages: sink.messages, strays: sink.strays, refusals: { ...sink.refusals } },
    faults,
    faultsFailed: faults.filter((f) => !f.ok).length,
    reloads,
    reloadsFailed,
    restarts: Object.values(restartsByRole).reduce((a, b) => a + b, 0),
    restartsByRole,
    daemonExits,
    rss: {
      startMiB: (firstIncarnation[0] ?? samples[0])?.rssMiB ?? 0,
      endMiB: samples.at(-1)?.rssMiB ?? 0,
      maxMiB: rssValues.length ? Math.max(...rssValues) : 0,
      trendMiBPerMin: Math.round(rssTrend(samples) * 100) / 100,
      samples,
    },
    clientErrors: Object.fromEntries(load.state.errors),
    logWarnings,
  };
}

/** The verdict: the reasons the soak failed (empty when it passed). */
export function soakProblems(r: SoakReport): string[] {
  const p: string[] = [];
  if (r.account.lost > 0) p.push(`${r.account.lost} accepted recipients lost`);
  if (r.account.misrouted > 0) p.push(`${r.account.misrouted} recipients ended the wrong way`);
  if (r.account.unexpectedAfterRefusal.length > 0) p.push(`${r.account.unexpectedAfterRefusal.length} messages refused at the final dot were delivered anyway`);
  if (r.daemonExits > 0) p.push(`the daemon exited by itself ${r.daemonExits} times`);
  if (r.reloadsFailed > 0) p.push(`${r.reloadsFailed} reloads failed`);
  if (!r.drained) p.push('the queue did not drain');
  return p;
}
