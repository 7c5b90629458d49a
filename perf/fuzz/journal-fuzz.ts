/**
 * journal-fuzz: damages real journals and checks what recovery makes of
 * them. Each case writes a queue through the store (messages of random
 * sizes and contents, some finished, some with outcomes, spread over small
 * segments), then damages its segments at random: bit flips, random bursts,
 * frame length words (alone or with their check word), zeroed frame headers
 * and truncations. Recovery then opens the queue, and again a second time.
 *
 *   crash: recovery threw (or the case's thread died)
 *   hang:  a case outlasted caseTimeoutMs (its thread is ended, a fresh one takes the next case)
 *   lost:  a message that was live and whose record's bytes were all intact did not come
 *          back, or came back with other content
 * Also counted: unstable (the second recovery found something the first left),
 * resurrected (a finished message whose done record was intact came back),
 * phantoms (an id nobody wrote). Each case runs from its own seed, so a
 * failure is replayed with `--case SEED`.
 *
 * Cases run in one worker thread, so that the main thread can end one that
 * hangs. As a program: node dist/perf/fuzz/journal-fuzz.js [--cases N]
 * [--seed S] [--dir DIR] [--case SEED]; prints the figures, exits 1 on any
 * crash, hang, loss or instability. npm run fuzz:journal runs 20,000 cases.
 */
import { mkdtemp, open, readdir, readFile, rm, stat, truncate } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { QueueStore, readContent } from '../../src/store/queue-store.js';
import { scanFrame } from '../../src/store/store-frame.js';
import { scanMessageMeta, type MetaSummary } from '../../src/store/store-meta-scan.js';
import { decodeMeta, KIND } from '../../src/store/store-records.js';
import { listSegments, segmentPath } from '../../src/store/store-segment.js';
import type { NewMessage } from '../../src/store/store-types.js';
import { configureLogging } from '../../src/util/log.js';

export interface JournalFuzzOptions {
  cases: number;
  /** Campaign seed: case i runs from a seed derived from (seed, i). */
  seed: number;
  /** Where case queues are made (default: a fresh directory on a memory file system when there is one, else the temporary one). */
  dir?: string;
  /** A case that runs longer is a hang (default 30 s). */
  caseTimeoutMs?: number;
  /** Run only these case seeds (replaying failures). */
  caseSeeds?: number[];
  /** Progress lines (default none). */
  progress?: (line: string) => void;
}

/** One case that went wrong, with the seed that replays it. */
export interface FuzzFailure {
  caseSeed: number;
  kind: 'crash' | 'hang' | 'lost' | 'unstable' | 'resurrected' | 'phantom';
  detail: string;
}

export interface JournalFuzzResult {
  cases: number;
  crashes: number;
  hangs: number;
  /** Messages with intact records that recovery did not give back whole. */
  lost: number;
  unstable: number;
  resurrected: number;
  phantoms: number;
  /** Live messages written, and of those the ones damage touched (allowed to be lost). */
  messages: number;
  damagedMessages: number;
  /** Recovery's own counts, summed: frame lengths repaired, ranges quarantined, torn tails cut. */
  repaired: number;
  quarantined: number;
  tornTails: number;
  failures: FuzzFailure[];
  ms: number;
}

/** What one case reports back to the campaign. */
interface CaseOutcome {
  messages: number;
  damagedMessages: number;
  repaired: number;
  quarantined: number;
  tornTails: number;
  failures: FuzzFailure[];
}

/** mulberry32: a small, fast, seedable generator; the same seed gives the same case. */
function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** The seed of case `i` of a campaign. */
function caseSeedOf(seed: number, i: number): number {
  return (Math.imul(seed >>> 0, 0x9e3779b1) + Math.imul(i + 1, 0x85ebca77)) >>> 0;
}

/** One frame of a clean journal, as written. */
interface WrittenFrame {
  segment: number;
  start: number;
  end: number;
  kind: number;
  queueId?: string;
}

/** Ranges of damaged bytes per segment, and where a segment was cut. */
interface Damage {
  ranges: Map<number, Array<[number, number]>>;
  truncatedAt: Map<number, number>;
}

const summary: MetaSummary = { queueId: '', hold: false, ready: false };

/** Every frame in the journal of a queue just closed cleanly. */
async function framesOf(queueDir: string): Promise<WrittenFrame[]> {
  const out: WrittenFrame[] = [];
  for (const segment of await listSegments(queueDir)) {
    const buf = await readFile(segmentPath(queueDir, segment));
    let offset = 0;
    for (;;) {
      const f = scanFrame(buf, offset);
      if (f.status !== 'ok') break;
      const frame: WrittenFrame = { segment, start: offset, end: f.end, kind: f.kind };
      if (f.kind === KIND.MESSAGE && scanMessageMeta(buf, f.metaStart, f.metaEnd, summary)) frame.queueId = summary.queueId;
      else if (f.kind > KIND.MESSAGE) frame.queueId = decodeMeta(buf, f.metaStart, f.metaEnd)?.i as string | undefined;
      out.push(frame);
      offset = f.end;
    }
  }
  return out;
}

function intact(frame: WrittenFrame, damage: Damage): boolean {
  const cut = damage.truncatedAt.get(frame.segment);
  if (cut !== undefined && frame.end > cut) return false;
  for (const [from, to] of damage.ranges.get(frame.segment) ?? []) if (from < frame.end && to > frame.start) return false;
  return true;
}

/** Writes a random queue into `queueDir`; returns the live messages' contents and the finished ids. */
async function writeQueue(queueDir: string, rnd: () => number, segmentBytes: number): Promise<{ live: Map<string, Buffer>; finished: Set<string> }> {
  const store = await QueueStore.open(queueDir, { segmentBytes, compactIntervalMs: 0 });
  const live = new Map<string, Buffer>();
  const finished = new Set<string>();
  const count = 4 + Math.floor(rnd() * 37);
  let n = 0;
  try {
    while (n < count) {
      // Small groups share a flush, as concurrent sessions do.
      const group = 1 + Math.floor(rnd() * 6);
      const appends: Promise<unknown>[] = [];
      for (let g = 0; g < group && n < count; g++, n++) {
        const queueId = `F${String(n).padStart(11, '0')}`;
        const size = rnd() < 0.1 ? 4000 + Math.floor(rnd() * 16000) : 20 + Math.floor(rnd() * 1500);
        const content = Buffer.alloc(size);
        const text = rnd() < 0.5;
        for (let i = 0; i < size; i++) content[i] = text ? 0x20 + Math.floor(rnd() * 95) : Math.floor(rnd() * 256);
        const m: NewMessage = {
          queueId,
          arrivalTime: 1_700_000_000_000 + n,
          sender: `s${n}@fuzz.test`,
          recipients: [{ address: `r${n}@fuzz.test` }, { address: `q${n}@fuzz.test` }],
          client: { name: 'fuzz.test', addr: '192.0.2.7', protocol: 'ESMTP' },
          headerLength: Math.min(size, 10),
          content,
        };
        live.set(queueId, content);
        appends.push(store.append(m));
      }
      await Promise.all(appends);
      // Some change records between the messages.
      if (rnd() < 0.3 && live.size > 0) {
        const ids = [...live.keys()];
        const id = ids[Math.floor(rnd() * ids.length)];
        if (rnd() < 0.5) {
          await store.markDone(id);
          live.delete(id);
          finished.add(id);
        } else {
          await store.recordOutcomes(id, [{ index: 0, state: 'deferred', reason: '451 later', dsn: '4.0.0', nextAttempt: 1_700_000_100_000 }]);
        }
      }
    }
  } finally {
    await store.close();
  }
  return { live, finished };
}

/** Damages the journal at random; returns what it hit. */
async function damage(queueDir: string, frames: WrittenFrame[], rnd: () => number): Promise<Damage> {
  const d: Damage = { ranges: new Map(), truncatedAt: new Map() };
  const segments = await listSegments(queueDir);
  const hit = (segment: number, from: number, to: number): void => {
    const list = d.ranges.get(segment) ?? [];
    list.push([from, to]);
    d.ranges.set(segment, list);
  };
  const write = async (segment: number, at: number, bytes: Buffer): Promise<void> => {
    const fh = await open(segmentPath(queueDir, segment), 'r+');
    try {
      await fh.write(bytes, 0, bytes.length, at);
    } finally {
      await fh.close();
    }
    hit(segment, at, at + bytes.length);
  };
  const dataEndOf = (segment: number): number => {
    let end = 0;
    for (const f of frames) if (f.segment === segment) end = Math.max(end, f.end);
    return end;
  };
  const damages = 1 + Math.floor(rnd() * 4);
  for (let k = 0; k < damages && segments.length > 0; k++) {
    const segment = segments[Math.floor(rnd() * segments.length)];
    const path = segmentPath(queueDir, segment);
    const size = (await stat(path)).size;
    // Mostly within the data; now and then in the zeros after it.
    const span = Math.max(1, rnd() < 0.9 ? dataEndOf(segment) : size);
    const own = frames.filter((f) => f.segment === segment);
    const frame = own.length > 0 ? own[Math.floor(rnd() * own.length)] : undefined;
    const r = rnd();
    if (r < 0.3) {
      const at = Math.floor(rnd() * Math.min(span, size));
      const b = Buffer.alloc(1);
      const fh = await open(path, 'r');
      await fh.read(b, 0, 1, at);
      await fh.close();
      b[0] ^= 1 << Math.floor(rnd() * 8);
      await write(segment, at, b);
    } else if (r < 0.45) {
      const at = Math.floor(rnd() * Math.min(span, size));
      const burst = Buffer.alloc(Math.min(1 + Math.floor(rnd() * 64), size - at));
      for (let i = 0; i < burst.length; i++) burst[i] = Math.floor(rnd() * 256);
      if (burst.length > 0) await write(segment, at, burst);
    } else if (r < 0.75 && frame) {
      // The length word alone, or with its check word.
      const word = Buffer.alloc(rnd() < 0.5 ? 4 : 8);
      for (let i = 0; i < word.length; i++) word[i] = Math.floor(rnd() * 256);
      await write(segment, frame.start, word);
    } else if (r < 0.85 && frame) {
      await write(segment, frame.start, Buffer.alloc(12));
    } else {
      const at = Math.floor(rnd() * Math.min(span, size));
      await truncate(path, at);
      d.truncatedAt.set(segment, Math.min(at, d.truncatedAt.get(segment) ?? Infinity));
    }
  }
  return d;
}

/** Opens the queue (recovery) and gives back its report and every live message's content. */
async function recover(queueDir: string, segmentBytes: number): Promise<{ store: QueueStore; contents: Map<string, Buffer> }> {
  const store = await QueueStore.open(queueDir, { segmentBytes, compactIntervalMs: 0 });
  const contents = new Map<string, Buffer>();
  for (const q of store.live()) contents.set(q.queueId, await readContent(queueDir, q.location));
  return { store, contents };
}

/** One case: write, damage, recover twice, compare. Throws only when recovery does (a crash). */
async function runCase(caseSeed: number, dir: string): Promise<CaseOutcome> {
  const rnd = prng(caseSeed);
  const queueDir = await mkdtemp(join(dir, `case-${caseSeed}-`));
  const out: CaseOutcome = { messages: 0, damagedMessages: 0, repaired: 0, quarantined: 0, tornTails: 0, failures: [] };
  const fail = (kind: FuzzFailure['kind'], detail: string): void => {
    out.failures.push({ caseSeed, kind, detail });
  };
  try {
    const segmentBytes = 4096 * (1 + Math.floor(rnd() * 16));
    const { live, finished } = await writeQueue(queueDir, rnd, segmentBytes);
    const frames = await framesOf(queueDir);
    const hurt = await damage(queueDir, frames, rnd);
    const messageFrame = new Map<string, WrittenFrame>();
    const doneFrame = new Map<string, WrittenFrame>();
    for (const f of frames) {
      if (f.kind === KIND.MESSAGE && f.queueId) messageFrame.set(f.queueId, f);
      if (f.kind === KIND.DONE && f.queueId) doneFrame.set(f.queueId, f);
    }
    let first;
    try {
      first = await recover(queueDir, segmentBytes);
    } catch (err) {
      fail('crash', `recovery threw: ${(err as Error).stack ?? String(err)}`);
      return out;
    }
    const r = first.store.recovery;
    out.repaired += r.repaired;
    out.quarantined += r.corrupt;
    if (r.tornTailBytes > 0) out.tornTails++;
    await first.store.close();
    for (const [id, content] of live) {
      out.messages++;
      const f = messageFrame.get(id);
      if (!f || !intact(f, hurt)) {
        out.damagedMessages++;
        continue;
      }
      const got = first.contents.get(id);
      if (!got) fail('lost', `${id} (segment ${f.segment}, bytes ${f.start}-${f.end}) intact but not recovered`);
      else if (!got.equals(content)) fail('lost', `${id} recovered with other content`);
    }
    for (const id of first.contents.keys()) {
      if (!live.has(id) && !finished.has(id)) fail('phantom', `${id} was never written`);
      const done = doneFrame.get(id);
      if (finished.has(id) && done && intact(done, hurt)) fail('resurrected', `${id} came back though its done record is intact`);
    }
    let second;
    try {
      second = await recover(queueDir, segmentBytes);
    } catch (err) {
      fail('crash', `second recovery threw: ${(err as Error).stack ?? String(err)}`);
      return out;
    }
    const again = second.store.recovery;
    await second.store.close();
    const same = second.contents.size === first.contents.size &&
      [...first.contents].every(([id, c]) => second.contents.get(id)?.equals(c) === true);
    if (!same || again.corrupt > 0 || again.repaired > 0 || again.tornTailBytes > 0) {
      fail('unstable', `second recovery: ${second.contents.size} messages (first ${first.contents.size}), corrupt=${again.corrupt}, ` +
        `repaired=${again.repaired}, torn_tail_bytes=${again.tornTailBytes}`);
    }
    return out;
  } finally {
    await rm(queueDir, { recursive: true, force: true });
  }
}

// ---- the campaign: a worker runs the cases, the main thread times them ----

type ToCaseWorker = { caseSeed: number; dir: string };
type FromCaseWorker = { caseSeed: number; outcome?: CaseOutcome; crash?: string };

if (!isMainThread && (workerData as { journalFuzz?: boolean } | null)?.journalFuzz) {
  // Recovery's warnings (the damage it found) are expected by the thousand: not printed.
  configureLogging({ sink: { write: () => undefined, flush: () => undefined, reopen: () => undefined } });
  parentPort?.on('message', (msg: ToCaseWorker) => {
    runCase(msg.caseSeed, msg.dir).then(
      (outcome) => parentPort?.postMessage({ caseSeed: msg.caseSeed, outcome } satisfies FromCaseWorker),
      (err: unknown) => parentPort?.postMessage({ caseSeed: msg.caseSeed, crash: (err as Error)?.stack ?? String(err) } satisfies FromCaseWorker),
    );
  });
}

/** A worker that runs cases one at a time; run() resolves with the case's report, or 'hang' / a crash text. */
class CaseRunner {
  private worker: Worker | undefined;
  private pending: ((r: FromCaseWorker | 'hang') => void) | undefined;

  private start(): Worker {
    const w = new Worker(new URL(import.meta.url), { workerData: { journalFuzz: true } });
    // Only the current thread may settle the current case: a replaced one is ignored.
    w.on('message', (m: FromCaseWorker) => this.settle(w, m));
    // A thread that dies takes its case with it: a crash.
    w.on('error', (err) => this.settle(w, { caseSeed: -1, crash: `worker died: ${err.stack ?? err.message}` }));
    w.on('exit', (code) => this.settle(w, { caseSeed: -1, crash: `worker exited with ${code}` }));
    this.worker = w;
    return w;
  }

  private settle(from: Worker | undefined, r: FromCaseWorker | 'hang'): void {
    if (from !== undefined && from !== this.worker) return;
    const p = this.pending;
    this.pending = undefined;
    p?.(r);
  }

  async run(caseSeed: number, dir: string, timeoutMs: number): Promise<FromCaseWorker | 'hang'> {
    const w = this.worker ?? this.start();
    const result = new Promise<FromCaseWorker | 'hang'>((resolve) => (this.pending = resolve));
    const timer = setTimeout(() => this.settle(undefined, 'hang'), timeoutMs);
    w.postMessage({ caseSeed, dir } satisfies ToCaseWorker);
    const r = await result;
    clearTimeout(timer);
    if (r === 'hang' || r.crash !== undefined) {
      // A hung or broken thread is not trusted with the next case.
      this.worker = undefined;
      await w.terminate();
    }
    return r;
  }

  async close(): Promise<void> {
    const w = this.worker;
    this.worker = undefined;
    await w?.terminate();
  }
}

/**
 * Where case queues go by default: a memory file system when the machine has
 * one (the fuzzer tests recovery, not the disk: fdatasync there is free), else
 * the system's temporary directory.
 */
async function scratchRoot(): Promise<string> {
  const shm = '/dev/shm';
  const ok = await stat(shm).then((st) => st.isDirectory(), () => false);
  return ok ? shm : tmpdir();
}

/** Runs a campaign of `cases` cases; resolves with the figures (never rejects for what a case finds). */
export async function runJournalFuzz(opts: JournalFuzzOptions): Promise<JournalFuzzResult> {
  const t0 = performance.now();
  const own = opts.dir === undefined;
  const dir = opts.dir ?? (await mkdtemp(join(await scratchRoot(), 'postrider-fuzz-')));
  const seeds = opts.caseSeeds ?? Array.from({ length: opts.cases }, (_, i) => caseSeedOf(opts.seed, i));
  const res: JournalFuzzResult = {
    cases: 0, crashes: 0, hangs: 0, lost: 0, unstable: 0, resurrected: 0, phantoms: 0,
    messages: 0, damagedMessages: 0, repaired: 0, quarantined: 0, tornTails: 0, failures: [], ms: 0,
  };
  const runner = new CaseRunner();
  try {
    for (const caseSeed of seeds) {
      const r = await runner.run(caseSeed, dir, opts.caseTimeoutMs ?? 30_000);
      res.cases++;
      if (r === 'hang') {
        res.hangs++;
        res.failures.push({ caseSeed, kind: 'hang', detail: `no result after ${opts.caseTimeoutMs ?? 30_000} ms` });
      } else if (r.crash !== undefined || !r.outcome) {
        res.crashes++;
        res.failures.push({ caseSeed, kind: 'crash', detail: r.crash ?? 'no outcome' });
      } else {
        const o = r.outcome;
        res.messages += o.messages;
        res.damagedMessages += o.damagedMessages;
        res.repaired += o.repaired;
        res.quarantined += o.quarantined;
        res.tornTails += o.tornTails;
        for (const f of o.failures) {
          if (f.kind === 'crash') res.crashes++;
          else if (f.kind === 'lost') res.lost++;
          else if (f.kind === 'unstable') res.unstable++;
          else if (f.kind === 'resurrected') res.resurrected++;
          else if (f.kind === 'phantom') res.phantoms++;
          res.failures.push(f);
        }
      }
      if (opts.progress && res.cases % 1000 === 0) {
        res.ms = Math.round(performance.now() - t0);
        opts.progress(figures(res));
      }
    }
  } finally {
    await runner.close();
    if (own) await rm(dir, { recursive: true, force: true });
    else for (const name of await readdir(dir).catch(() => [])) if (name.startsWith('case-')) await rm(join(dir, name), { recursive: true, force: true });
  }
  res.ms = Math.round(performance.now() - t0);
  return res;
}

/** One line of figures. */
export function figures(r: JournalFuzzResult): string {
  return `cases=${r.cases} crashes=${r.crashes} hangs=${r.hangs} lost=${r.lost} unstable=${r.unstable} resurrected=${r.resurrected} ` +
    `phantoms=${r.phantoms} messages=${r.messages} damaged_messages=${r.damagedMessages} repaired=${r.repaired} ` +
    `quarantined=${r.quarantined} torn_tails=${r.tornTails} seconds=${(r.ms / 1000).toFixed(1)}`;
}

function argValue(args: string[], name: string): string | undefined {
  const i = args.indexOf(name);
  return i >= 0 ? args[i + 1] : undefined;
}

async function main(args: string[]): Promise<number> {
  const one = argValue(args, '--case');
  const opts: JournalFuzzOptions = {
    cases: Number(argValue(args, '--cases') ?? 1000),
    seed: Number(argValue(args, '--seed') ?? 1),
    dir: argValue(args, '--dir'),
    caseSeeds: one !== undefined ? [Number(one)] : undefined,
    progress: (line) => console.log(`journal fuzz: ${line}`),
  };
  if (!Number.isInteger(opts.cases) || opts.cases < 1 || !Number.isFinite(opts.seed)) {
    console.error('usage: journal-fuzz [--cases N] [--seed S] [--dir DIR] [--case SEED]');
    return 2;
  }
  console.log(`journal fuzz: ${opts.caseSeeds ? `case ${one}` : `${opts.cases} cases, seed ${opts.seed}`}`);
  const r = await runJournalFuzz(opts);
  for (const f of r.failures.slice(0, 20)) console.log(`journal fuzz: ${f.kind}: case ${f.caseSeed}: ${f.detail.split('\n')[0]}`);
  console.log(`journal fuzz: ${figures(r)}`);
  return r.crashes + r.hangs + r.lost + r.unstable + r.resurrected + r.phantoms > 0 ? 1 : 0;
}

if (isMainThread && process.argv[1] === fileURLToPath(import.meta.url)) {
  process.exitCode = await main(process.argv.slice(2));
}
