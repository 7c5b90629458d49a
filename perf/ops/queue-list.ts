/**
 * queue-list: how long `postrider queue` (mailq) and `postrider queue --json`
 * (postqueue -j) take on a queue of QUEUE_LIST_MESSAGES messages (default
 * 100,000), and the peak memory (VmHWM) of the daemon and of the command.
 *
 * The queue is filled straight through a QueueStore in a temporary queue
 * directory (big concurrent batches of appends, then every recipient
 * deferred an hour ahead so nothing is retried during the run), then the
 * real daemon is started on it and each listing runs QUEUE_LIST_RUNS times
 * (default 3) with its output going to /dev/null. One run per command is
 * also read whole to check it lists every message. Prints one line per
 * figure; exits 1 when a listing is incomplete or fails.
 */
import { spawn } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueStore, QueueIdGenerator } from '../../src/store/queue-store.js';
import type { NewMessage } from '../../src/store/store-types.js';
import { CLI, startDaemon } from '../../test/helpers/daemon.js';
import { percentile } from '../store/append-via-thread-common.js';

const MESSAGES = Number(process.env.QUEUE_LIST_MESSAGES ?? 100_000);
const RUNS = Number(process.env.QUEUE_LIST_RUNS ?? 3);
const BATCH = 2_000;
/** Reports the command's own peak resident size (KiB, as VmHWM) on standard error when it exits. */
const MAXRSS_PRELOAD = 'data:text/javascript,process.on("exit",()=>process.stderr.write("\\nmaxrss_kib="+process.resourceUsage().maxRSS+"\\n"))';

function body(i: number): Buffer {
  const headers = `Received: from client.test (localhost [127.0.0.1])\r\nFrom: <sender${i % 97}@client.test>\r\nTo: <rcpt${i}@remote.test>\r\nSubject: queue listing ${i}\r\nMessage-ID: <ql.${i}@client.test>\r\n\r\n`;
  return Buffer.from(headers + 'x'.repeat(400) + '\r\n');
}

async function fill(queueDir: string): Promise<number> {
  const t0 = performance.now();
  const store = await QueueStore.open(queueDir);
  const ids = new QueueIdGenerator(7);
  const retryAt = Date.now() + 3_600_000;
  for (let start = 0; start < MESSAGES; start += BATCH) {
    const batch: NewMessage[] = [];
    for (let i = start; i < Math.min(MESSAGES, start + BATCH); i++) {
      const content = body(i);
      const recipients = i % 5 === 0
        ? [{ address: `rcpt${i}@remote.test` }, { address: `cc${i}@other.test` }]
        : [{ address: `rcpt${i}@remote.test` }];
      batch.push({
        queueId: ids.next(),
        arrivalTime: Date.now(),
        sender: `sender${i % 97}@client.test`,
        recipients,
        client: { name: 'localhost', addr: '127.0.0.1', protocol: 'ESMTP' },
        headerLength: content.indexOf('\r\n\r\n') + 4,
        content,
      });
    }
    await Promise.all(batch.map((m) => store.append(m)));
    await Promise.all(batch.map((m) => store.recordOutcomes(m.queueId, m.recipients.map((_, index) => ({
      index,
      state: 'deferred' as const,
      reason: 'connect to remote.test[192.0.2.1]:25: Connection timed out',
      dsn: '4.4.1',
      nextAttempt: retryAt,
    })))));
  }
  const counts = store.counts();
  await store.close();
  if (counts.total !== MESSAGES) throw new Error(`the store holds ${counts.total} messages, expected ${MESSAGES}`);
  return performance.now() - t0;
}

/** Peak resident size of a live process, KiB. */
function vmHwm(pid: number): number {
  const m = /^VmHWM:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : NaN;
}

interface ListRun {
  ms: number;
  maxrssKib: number;
  lines?: number;
}

/** Runs `postrider -c DIR queue ...args`; output to /dev/null, or counted when `count`. */
function list(configDir: string, args: string[], count: boolean): Promise<ListRun> {
  return new Promise((resolve, reject) => {
    const devnull = count ? undefined : openSync('/dev/null', 'w');
    const t0 = performance.now();
    const child = spawn(process.execPath, ['--import', MAXRSS_PRELOAD, CLI, '-c', configDir, 'queue', ...args], {
      stdio: ['ignore', devnull ?? 'pipe', 'pipe'],
    });
    let lines = 0;
    let err = '';
    child.stdout?.on('data', (b: Buffer) => {
      for (let i = b.indexOf(10); i >= 0; i = b.indexOf(10, i + 1)) lines++;
    });
    child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = performance.now() - t0;
      if (devnull !== undefined) closeSync(devnull);
      const rss = /maxrss_kib=(\d+)/.exec(err);
      if (code !== 0) return reject(new Error(`postrider queue ${args.join(' ')} exited ${code}: ${err.trim().split('\n')[0]}`));
      resolve({ ms, maxrssKib: rss ? Number(rss[1]) : NaN, lines: count ? lines : undefined });
    });
  });
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'postrider-qlist-'));
  const queueDir = join(root, 'spool');
  let failed = false;
  try {
    const fillMs = await fill(queueDir);
    console.log(`queue-list: filled ${MESSAGES} messages in ${(fillMs / 1000).toFixed(1)} s`);
    const t0 = performance.now();
    const daemon = await startDaemon({ params: { queue_directory: queueDir, relayhost: '[127.0.0.1]:9' }, readyTimeoutMs: 300_000 });
    try {
      console.log(`queue-list: daemon ready on the full queue in ${((performance.now() - t0) / 1000).toFixed(1)} s, VmHWM ${(vmHwm(daemon.child.pid!) / 1024).toFixed(0)} MiB`);
      for (const args of [[], ['--json']]) {
        const name = `postrider queue${args.length ? ' ' + args.join(' ') : ''}`;
        const whole = await list(daemon.configDir, args, true);
        // mailq: a header line, three or more lines per message, and a summary; --json: one line per message.
        const complete = args.length ? whole.lines === MESSAGES : (whole.lines ?? 0) >= MESSAGES * 3;
        if (!complete) {
          failed = true;
          console.log(`queue-list: ${name}: INCOMPLETE listing, ${whole.lines} lines for ${MESSAGES} messages`);
        }
        const runs: ListRun[] = [];
        for (let r = 0; r < RUNS; r++) runs.push(await list(daemon.configDir, args, false));
        const times = runs.map((x) => x.ms);
        console.log(`queue-list: ${name} > /dev/null: median ${(percentile([...times].sort((a, b) => a - b), 0.5) / 1000).toFixed(2)} s ` +
          `(min ${(Math.min(...times) / 1000).toFixed(2)}, max ${(Math.max(...times) / 1000).toFixed(2)}, ${RUNS} runs), ` +
          `${whole.lines} lines, command VmHWM ${(Math.max(...runs.map((x) => x.maxrssKib)) / 1024).toFixed(0)} MiB`);
      }
      console.log(`queue-list: daemon VmHWM after the listings ${(vmHwm(daemon.child.pid!) / 1024).toFixed(0)} MiB`);
    } finally {
      await daemon.stop();
      rmSync(daemon.dir, { recursive: true, force: true });
    }
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
  if (failed) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(`queue-list: ${String((err as Error)?.message ?? err).split('\n')[0]}`);
  process.exitCode = 1;
});
