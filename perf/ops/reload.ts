/**
 * reload: what `postrider reload` costs the mail flow on a queue of
 * RELOAD_MESSAGES deferred messages (default 20,000): how long the command
 * takes, and how long a message waits for its 250 while a reload runs,
 * against the same figures with no reload. One client sends message after
 * message on a kept-open session the whole time (a new session after the
 * old listener ends it); RELOAD_RUNS reloads (default 3) run in between.
 * Also reports whether the journal replayed the queue again (it must not:
 * it is kept across reloads) and how long its one replay at start took,
 * which is what each reload used to cost the appends.
 *
 * The queue is filled straight through a QueueStore (every recipient
 * deferred an hour ahead, so nothing is retried during the run). Prints
 * one line per figure; exits 1 when the journal replayed during a reload
 * or a reload failed.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { QueueStore, QueueIdGenerator } from '../../src/store/queue-store.js';
import type { NewMessage } from '../../src/store/store-types.js';
import { startDaemon, type RunningDaemon } from '../../test/helpers/daemon.js';
import { SourceConnection } from '../harness/source-connection.js';
import { percentile } from '../store/append-via-thread-common.js';

const MESSAGES = Number(process.env.RELOAD_MESSAGES ?? 20_000);
const RUNS = Number(process.env.RELOAD_RUNS ?? 3);
const BATCH = 2_000;

async function fill(queueDir: string): Promise<void> {
  const store = await QueueStore.open(queueDir);
  const ids = new QueueIdGenerator(9);
  const retryAt = Date.now() + 3_600_000;
  for (let start = 0; start < MESSAGES; start += BATCH) {
    const batch: NewMessage[] = [];
    for (let i = start; i < Math.min(MESSAGES, start + BATCH); i++) {
      const content = Buffer.from(`From: <s@client.test>\r\nSubject: deferred ${i}\r\n\r\n${'x'.repeat(400)}\r\n`);
      batch.push({
        queueId: ids.next(),
        arrivalTime: Date.now(),
        sender: 's@client.test',
        recipients: [{ address: `rcpt${i}@remote.test` }],
        client: { name: 'localhost', addr: '127.0.0.1', protocol: 'ESMTP' },
        headerLength: content.indexOf('\r\n\r\n') + 4,
        content,
      });
    }
    await Promise.all(batch.map((m) => store.append(m)));
    await Promise.all(batch.map((m) => store.recordOutcomes(m.queueId, [{ index: 0, state: 'deferred' as const, reason: 'connect to remote.test[192.0.2.1]:25: Connection timed out', dsn: '4.4.1', nextAttempt: retryAt }])));
  }
  await store.close();
}

/** Sends messages back to back until `stop()`; records each one's time to its reply after the dot. */
function sender(port: number): { latencies: Array<{ at: number; ms: number }>; failures: string[]; stop(): Promise<void> } {
  const latencies: Array<{ at: number; ms: number }> = [];
  const failures: string[] = [];
  let running = true;
  const loop = (async () => {
    let c: SourceConnection | undefined;
    for (let n = 0; running; n++) {
      if (!c || c.ended !== undefined) {
        c = await SourceConnection.open('127.0.0.1', port);
        if (!(await c.hello('client.test')).ok) continue;
      }
      const t0 = performance.now();
      const out = await c.sendMessage('s@client.test', [`r${n}@remote.test`], { head: `Subject: during reload ${n}\r\n\r\nbody\r\n.\r\n` });
      if (out.accepted) latencies.push({ at: t0, ms: performance.now() - t0 });
      else if (!out.errors.some((e) => e.stage === 'mail' && e.reply.startsWith('421'))) failures.push(out.errors.map((e) => e.reply).join('; '));
    }
    await c?.quit();
  })();
  return {
    latencies,
    failures,
    stop: async () => {
      running = false;
      await loop;
    },
  };
}

function summary(xs: number[]): string {
  const s = [...xs].sort((a, b) => a - b);
  return `p50 ${percentile(s, 0.5).toFixed(1)} ms, p99 ${percentile(s, 0.99).toFixed(1)} ms, max ${(s[s.length - 1] ?? NaN).toFixed(1)} ms (${s.length} messages)`;
}

async function main(): Promise<void> {
  const root = mkdtempSync(join(tmpdir(), 'postrider-reload-'));
  const queueDir = join(root, 'spool');
  let daemon: RunningDaemon | undefined;
  let failed = false;
  try {
    await fill(queueDir);
    daemon = await startDaemon({ params: { queue_directory: queueDir, relayhost: '[127.0.0.1]:9', supervisor_drain_timeout: '2s' }, readyTimeoutMs: 300_000 });
    const replay = /queue store open: (\d+) messages .* (\d+) ms/.exec(daemon.log());
    console.log(`reload: queue of ${replay?.[1]} messages replayed at start in ${replay?.[2]} ms (what a reload cost when it replaced the journal)`);
    const s = sender(daemon.port);
    await new Promise((r) => setTimeout(r, 3000));
    const windows: Array<[number, number]> = [];
    const took: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      const t0 = performance.now();
      const r = await daemon.cli(['reload']);
      const t1 = performance.now();
      if (r.code !== 0) {
        failed = true;
        console.log(`reload: run ${i + 1} FAILED: ${r.stderr.trim()}`);
      }
      windows.push([t0, t1]);
      took.push(t1 - t0);
      await new Promise((r2) => setTimeout(r2, 3000));
    }
    await s.stop();
    const during = s.latencies.filter((l) => windows.some(([a, b]) => l.at >= a && l.at <= b)).map((l) => l.ms);
    const outside = s.latencies.filter((l) => !windows.some(([a, b]) => l.at >= a - 1000 && l.at <= b + 3000)).map((l) => l.ms);
    console.log(`reload: postrider reload took ${took.map((t) => (t / 1000).toFixed(2)).join(', ')} s`);
    console.log(`reload: time to 250 with no reload running: ${summary(outside)}`);
    console.log(`reload: time to 250 while a reload runs: ${summary(during)}`);
    if (s.failures.length > 0) console.log(`reload: ${s.failures.length} messages refused, first: ${s.failures[0]}`);
    const opened = daemon.log().split('queue store open').length - 1;
    if (opened !== 1) failed = true;
    console.log(`reload: journal replays after start: ${opened - 1}${opened !== 1 ? ' (WRONG: the journal must be kept)' : ''}`);
  } finally {
    await daemon?.stop();
    if (daemon) rmSync(daemon.dir, { recursive: true, force: true });
    rmSync(root, { recursive: true, force: true });
  }
  if (failed) process.exitCode = 1;
}

main().catch((err: unknown) => {
  console.error(`reload: ${String((err as Error)?.message ?? err).split('\n')[0]}`);
  process.exitCode = 1;
});
