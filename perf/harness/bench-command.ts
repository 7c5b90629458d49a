/**
 * bench-command: `postrider bench run|source|sink|all`, the harness from the
 * command line.
 *   run     generator -> MTA under test -> sink, tables and a JSON file;
 *           with the CPU per message per role and the scaling model's
 *           projection (role-report); `--cpus LIST` (repeatable) runs each
 *           MTA pinned to each CPU list in turn, and `--source-cpus LIST`
 *           pins the bench process itself (generator and sink), so the
 *           model's 1-core to 2-core gain can be checked; `--milter ADDR`
 *           follows each Postrider run with one whose smtpd_milters is ADDR
 *           (postrider+milter), the milter's cost as a ratio in one run;
 *   source  the load generator alone against any SMTP server (smtp-source);
 *   sink    the sink alone (smtp-sink), until N messages or a signal;
 *   all     every benchmark of perf/ in turn (micro-benchmarks included).
 * A bad option is a one-line error (exit 1); a run with lost or duplicated
 * messages exits 2, so a script can tell.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs, type ParseArgsConfig } from 'node:util';
import { percentile } from '../store/append-via-thread-common.js';
import { formatRun, summarize, writeJson } from './bench-report.js';
import { startBenchSink } from './bench-sink.js';
import { runBench, type ConnectionMode, type RunOptions } from './e2e-run.js';
import { parseCpuList, pinProcess } from './cpu-pinning.js';
import { mtaName, type MtaSpec } from './mta-under-test.js';
import { formatRoleReport, scalingChecks, summarizeRoles } from './role-report.js';
import { parseSinkRule } from './sink-rules.js';
import { runSource } from './smtp-source.js';

export const BENCH_USAGE = [
  'usage: postrider bench run [-m count] [-s sessions] [-l size] [-r recipients] [--unique] [--rate MSG/S] [--mode kept|per-connection|both]',
  '                           [--mta direct,postrider] [--variant NAME:param=value[,param=value...] ...]',
  '                           [--compare-name NAME --compare-start CMD [--compare-stop CMD]]',
  '                           [--rounds N] [--baseline NAME] [--stall SECONDS] [--json FILE] [--quiet]',
  '                           [--cpus LIST ...] [--source-cpus LIST] [--milter ADDR] [--warmup COUNT]',
  '       postrider bench source --port PORT [--host HOST] [-m count] [-s sessions] [-l size] [-r recipients] [--unique] [--rate MSG/S]',
  '                           [--per-connection] [--from ADDR] [--to ADDR] [--starttls] [--json FILE]',
  '       postrider bench sink [--host HOST] [--port PORT] [--count N] [--store DIR] [--reply STAGE[@EVERY]:REPLY ...]',
  '                           [--tls-cert FILE --tls-key FILE]',
  '       postrider bench all',
].join('\n');

/** A usage problem: one line, exit 1. */
export class BenchUsageError extends Error {}

/** "1024", "1k", "64K", "1m" -> bytes (k and m are binary). */
export function parseSize(text: string): number {
  const m = /^(\d+)([kKmM]?)$/.exec(text.trim());
  if (!m) throw new BenchUsageError(`bad size: ${text} (bytes, or a number with k or m)`);
  const mult = m[2] === '' ? 1 : m[2].toLowerCase() === 'k' ? 1024 : 1024 * 1024;
  return Number(m[1]) * mult;
}

function positive(name: string, text: string | undefined, fallback: number): number {
  if (text === undefined) return fallback;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 1) throw new BenchUsageError(`bad ${name}: ${text} (a whole number from 1)`);
  return n;
}

function stamp(): string {
  return new Date().toISOString().replace(/[-:]/g, '').replace('T', '-').slice(0, 15);
}

/** A progress line: rewritten in place on a terminal, else at most one line every 2 s. */
function progressWriter(quiet: boolean): ((line: string) => void) & { done(): void } {
  let last = 0;
  const tty = process.stderr.isTTY === true;
  const write = ((line: string) => {
    if (quiet) return;
    if (tty) process.stderr.write(`\r${line.slice(0, (process.stderr.columns || 120) - 1).padEnd((process.stderr.columns || 120) - 1)}`);
    else if (Date.now() - last >= 2000) {
      last = Date.now();
      process.stderr.write(line + '\n');
    }
  }) as ((line: string) => void) & { done(): void };
  write.done = () => {
    if (tty && !quiet) process.stderr.write('\r'.padEnd((process.stderr.columns || 120) - 1) + '\r');
  };
  return write;
}

const COMMON = {
  m: { type: 'string', short: 'm' },
  s: { type: 'string', short: 's' },
  l: { type: 'string', short: 'l' },
  r: { type: 'string', short: 'r' },
  unique: { type: 'boolean' },
  rate: { type: 'string' },
  json: { type: 'string' },
} as const;

/**
 * The MTAs to measure: a comma list of direct and postrider, then another MTA
 * when `compare.start` is given. A name not known, or a compare name or stop
 * command without a start, is a BenchUsageError.
 */
export function parseMtas(list: string, compare: { name?: string; start?: string; stop?: string } = {}, variants: string[] = []): MtaSpec[] {
  const mtas: MtaSpec[] = [];
  for (const name of list.split(',').filter(Boolean)) {
    if (name === 'direct') mtas.push({ kind: 'direct' });
    else if (name === 'postrider') mtas.push({ kind: 'postrider' });
    else throw new BenchUsageError(`bad --mta: ${name} (direct or postrider; another MTA through --compare-start)`);
  }
  // --variant NAME:param=value,param=value: Postrider again, on main.cf values of its own (DKIM signing on, say).
  for (const v of variants) {
    const m = /^([A-Za-z0-9_-]+):(.+)$/.exec(v);
    if (!m) throw new BenchUsageError(`bad --variant: ${v} (NAME:param=value[,param=value...])`);
    const params: Record<string, string> = {};
    for (const pair of m[2].split(',')) {
      const eq = pair.indexOf('=');
      if (eq <= 0) throw new BenchUsageError(`bad --variant: ${v}: "${pair}" is not param=value`);
      params[pair.slice(0, eq).trim()] = pair.slice(eq + 1).trim();
    }
    mtas.push({ kind: 'postrider', name: `postrider-${m[1]}`, params });
  }
  if (compare.start) {
    mtas.push({ kind: 'command', name: compare.name ?? 'other', start: compare.start, stop: compare.stop });
  } else if (compare.stop || compare.name) {
    throw new BenchUsageError('--compare-name and --compare-stop need --compare-start');
  }
  if (mtas.length === 0) throw new BenchUsageError('no MTA to measure');
  return mtas;
}

/**
 * --milter ADDR: each Postrider run is followed by one with smtpd_milters =
 * ADDR, named postrider+milter, so the report shows the milter's cost as a
 * ratio within one run.
 */
export function withMilter(mtas: MtaSpec[], milter: string | undefined): MtaSpec[] {
  if (!milter) return mtas;
  return mtas.flatMap((m): MtaSpec[] => (m.kind === 'postrider' ? [m, { ...m, params: { ...m.params, smtpd_milters: milter }, name: 'postrider+milter' }] : [m]));
}

/** Each MTA once per CPU list (the direct run, which has no MTA, once); the MTAs as given without lists. */
export function pinMtas(mtas: MtaSpec[], lists: string[] | undefined): MtaSpec[] {
  if (!lists || lists.length === 0) return mtas;
  for (const list of lists) {
    try {
      parseCpuList(list);
    } catch (err) {
      throw new BenchUsageError(`bad --cpus: ${(err as Error).message}`);
    }
  }
  return mtas.flatMap((m): MtaSpec[] => (m.kind === 'direct' ? [m] : lists.map((cpus) => ({ ...m, cpus }))));
}

function parse<T extends ParseArgsConfig>(config: T): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (err) {
    throw new BenchUsageError((err as Error).message.split('\n')[0]);
  }
}

/** What each subcommand's parser takes; `postrider bench SUB --help` lists the same (a test holds them equal). */
export const RUN_OPTIONS = {
  ...COMMON,
  mode: { type: 'string' },
  mta: { type: 'string' },
  'compare-name': { type: 'string' },
  'compare-start': { type: 'string' },
  'compare-stop': { type: 'string' },
  variant: { type: 'string', multiple: true },
  rounds: { type: 'string' },
  baseline: { type: 'string' },
  stall: { type: 'string' },
  quiet: { type: 'boolean' },
  cpus: { type: 'string', multiple: true },
  'source-cpus': { type: 'string' },
  milter: { type: 'string' },
  warmup: { type: 'string' },
} as const;

export const SOURCE_OPTIONS = {
  ...COMMON,
  host: { type: 'string' },
  port: { type: 'string' },
  'per-connection': { type: 'boolean' },
  from: { type: 'string' },
  to: { type: 'string' },
  starttls: { type: 'boolean' },
  quiet: { type: 'boolean' },
} as const;

export const SINK_OPTIONS = {
  host: { type: 'string' },
  port: { type: 'string' },
  count: { type: 'string' },
  store: { type: 'string' },
  reply: { type: 'string', multiple: true },
  'tls-cert': { type: 'string' },
  'tls-key': { type: 'string' },
} as const;

async function runCommand(args: string[]): Promise<number> {
  const { values } = parse({ args, strict: true, options: RUN_OPTIONS });
  const mode = values.mode ?? 'both';
  if (!['kept', 'per-connection', 'both'].includes(mode)) throw new BenchUsageError(`bad --mode: ${mode} (kept, per-connection or both)`);
  const modes: ConnectionMode[] = mode === 'both' ? ['kept', 'per-connection'] : [mode as ConnectionMode];
  const mtas = pinMtas(withMilter(parseMtas(values.mta ?? 'postrider', { name: values['compare-name'], start: values['compare-start'], stop: values['compare-stop'] }, values.variant), values.milter), values.cpus);
  const other = mtas.find((m) => m.kind === 'command');
  const baseline = values.baseline ?? (other ? mtaName(other) : mtas.length > 1 ? mtaName(mtas[0]) : undefined);
  if (baseline && !mtas.some((m) => mtaName(m) === baseline)) throw new BenchUsageError(`--baseline ${baseline} is not among the MTAs measured`);
  const sourceCpus = values['source-cpus'];
  if (sourceCpus !== undefined) {
    try {
      pinProcess(process.pid, sourceCpus);
    } catch (err) {
      throw new BenchUsageError(`--source-cpus: ${(err as Error).message}`);
    }
  }
  const progress = progressWriter(values.quiet === true);
  const opts: RunOptions = {
    count: positive('-m', values.m, 2000),
    sessions: positive('-s', values.s, 16),
    size: values.l === undefined ? 1024 : parseSize(values.l),
    recipients: positive('-r', values.r, 1),
    uniqueRecipients: values.unique === true,
    rate: values.rate === undefined ? undefined : positive('--rate', values.rate, 1),
    warmup: values.warmup === '0' ? 0 : positive('--warmup', values.warmup, 0),
    modes,
    mtas,
    rounds: positive('--rounds', values.rounds, 1),
    stallMs: positive('--stall', values.stall, 30) * 1000,
    onProgress: progress,
    sourceCpus,
  };
  const cases = await runBench(opts);
  progress.done();
  const summary = summarize(cases, baseline);
  console.log(formatRun(cases, summary, baseline));
  const roles = formatRoleReport(cases);
  if (roles) console.log(`\n${roles}`);
  const file = values.json ?? `postrider-bench-${stamp()}.json`;
  const { onProgress: _drop, ...saved } = opts;
  writeJson(file, saved, cases, summary, { roles: summarizeRoles(cases), scalingChecks: scalingChecks(cases) });
  console.log(`\nresults: ${file}`);
  return cases.some((c) => c.lost > 0 || c.duplicated > 0) ? 2 : 0;
}

async function sourceCommand(args: string[]): Promise<number> {
  const { values } = parse({ args, strict: true, options: SOURCE_OPTIONS });
  if (!values.port) throw new BenchUsageError('bench source needs --port');
  const progress = progressWriter(values.quiet === true);
  const count = positive('-m', values.m, 1000);
  const r = await runSource({
    host: values.host ?? '127.0.0.1',
    port: positive('--port', values.port, 25),
    count,
    sessions: positive('-s', values.s, 16),
    size: values.l === undefined ? 1024 : parseSize(values.l),
    recipients: positive('-r', values.r, 1),
    uniqueRecipients: values.unique === true,
    messagesPerConnection: values['per-connection'] ? 1 : 0,
    rate: values.rate === undefined ? undefined : positive('--rate', values.rate, 1),
    from: values.from,
    to: values.to,
    starttls: values.starttls === true,
    onProgress: (p) => progress(`sent ${p.sent}/${count}, 250 ${p.accepted}, errors ${p.errors}`),
  });
  progress.done();
  const lat = r.accepted.map((a) => a.latencyMs).sort((a, b) => a - b);
  const seconds = r.elapsedMs / 1000;
  console.log(`accepted ${r.accepted.length}/${count} in ${seconds.toFixed(2)} s: ${(r.accepted.length / seconds).toFixed(0)} msg/s over ${r.connections} connections`);
  console.log(`250 latency ms: p50 ${percentile(lat, 0.5).toFixed(1)}  p99 ${percentile(lat, 0.99).toFixed(1)}  p99.9 ${percentile(lat, 0.999).toFixed(1)}`);
  const byReply = new Map<string, number>();
  for (const e of r.errors) byReply.set(`${e.stage}: ${e.reply}`, (byReply.get(`${e.stage}: ${e.reply}`) ?? 0) + 1);
  for (const [reply, n] of byReply) console.log(`error x${n}  ${reply}`);
  if (values.json) writeFileSync(values.json, JSON.stringify(r, null, 2) + '\n');
  return r.errors.length > 0 ? 2 : 0;
}

async function sinkCommand(args: string[]): Promise<number> {
  const { values } = parse({ args, strict: true, options: SINK_OPTIONS });
  if (!!values['tls-cert'] !== !!values['tls-key']) throw new BenchUsageError('--tls-cert and --tls-key go together');
  let rules;
  try {
    rules = (values.reply ?? []).map(parseSinkRule);
  } catch (err) {
    throw new BenchUsageError((err as Error).message);
  }
  const expect = values.count === undefined ? undefined : positive('--count', values.count, 1);
  const sink = await startBenchSink({
    host: values.host ?? '127.0.0.1',
    port: values.port === undefined ? 0 : Number(values.port),
    expect,
    storeDir: values.store,
    rules,
    tls: values['tls-cert'] ? { cert: readFileSync(values['tls-cert']), key: readFileSync(values['tls-key'] as string) } : undefined,
  });
  console.log(`listening on ${sink.host}:${sink.port}`);
  const stopped = new Promise<void>((res) => {
    process.once('SIGINT', res);
    process.once('SIGTERM', res);
  });
  await Promise.race([stopped, expect === undefined ? new Promise(() => undefined) : sink.whenAll(24 * 3600 * 1000)]);
  const s = sink.stats();
  const seconds = s.firstAt !== undefined && s.lastAt !== undefined ? (s.lastAt - s.firstAt) / 1000 : 0;
  console.log(`messages ${s.messages}, recipients ${s.recipients}, bytes ${s.bytes}, connections ${s.connections}` +
    (seconds > 0 ? `, ${(s.messages / seconds).toFixed(0)} msg/s from first to last` : ''));
  for (const [k, n] of Object.entries(s.scripted)) console.log(`scripted ${k}: ${n}`);
  const dups = [...sink.tokens.values()].filter((n) => n > 1).length;
  if (dups) console.log(`duplicated tokens: ${dups}`);
  await sink.close();
  return 0;
}

function allCommand(): number {
  const runAll = join(dirname(fileURLToPath(import.meta.url)), '..', 'run-all.js');
  return spawnSync(process.execPath, [runAll], { stdio: 'inherit' }).status ?? 1;
}

/** Runs `postrider bench ARGS`; resolves with the exit status. */
export async function benchCommand(args: string[]): Promise<number> {
  const [sub, ...rest] = args;
  switch (sub) {
    case 'run':
      return runCommand(rest);
    case 'source':
      return sourceCommand(rest);
    case 'sink':
      return sinkCommand(rest);
    case 'all':
      return allCommand();
    default:
      throw new BenchUsageError(`${sub ? `unknown bench command: ${sub}` : 'bench needs a command: run, source, sink or all'}\n${BENCH_USAGE}`);
  }
}
