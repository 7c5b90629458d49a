/**
 * large-messages: the daemon's memory while many clients send large
 * messages at once. LARGE_CLIENTS (default 100) concurrent clients each
 * send one LARGE_BYTES (default 10,000,000) byte message by DATA to a real
 * daemon relaying to a sink; the daemon's resident memory is sampled every
 * 20 ms from /proc/PID/status (VmRSS, the whole process with every thread)
 * and VmHWM read at the end. Two runs in one invocation: with the spool
 * threshold (message_spool_threshold = LARGE_THRESHOLD, default 1 MiB), and
 * without it (0: every message held whole in memory, as before). So that
 * receiving and delivering are measured apart, a header_checks HOLD keeps
 * every message in the hold queue until the last 250, then `queue release
 * ALL` lets them go to the sink (default_destination_concurrency_limit 20).
 * Each run prints the idle RSS, the peak while receiving, the peak while
 * delivering, their rise over idle, and checks that the sink got every
 * message byte for byte (SHA-256 of the content behind the Received:
 * header), exiting 1 if one is missing or differs.
 *
 *   node dist/perf/smtpd/large-messages.js
 */
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBenchSink } from '../harness/bench-sink.js';
import { startDaemon } from '../../test/helpers/daemon.js';

const CLIENTS = Number(process.env.LARGE_CLIENTS ?? 100);
const BYTES = Number(process.env.LARGE_BYTES ?? 10_000_000);
const THRESHOLD = process.env.LARGE_THRESHOLD ?? '1048576';
const MODES = (process.env.LARGE_MODES ?? 'spool,memory').split(',');

/** The body all messages share (lines of 76 letters: no dot-stuffing needed). */
function makeBody(bytes: number): Buffer {
  const line = Buffer.from('abcdefghijklmnopqrstuvwxyz'.repeat(3).slice(0, 76) + '\r\n');
  const body = Buffer.allocUnsafe(Math.ceil(bytes / line.length) * line.length);
  for (let at = 0; at < body.length; at += line.length) line.copy(body, at);
  return body.subarray(0, Math.floor(bytes / line.length) * line.length);
}

function headerOf(i: number): Buffer {
  return Buffer.from(`From: a@bench.test\r\nTo: b@sink.test\r\nSubject: large ${i}\r\nMessage-ID: <large-${i}@bench.test>\r\nX-Bench-Token: large-${i}\r\n\r\n`);
}

function rssKiB(pid: number): { rss: number; hwm: number } {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const field = (name: string): number => Number(new RegExp(`^${name}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? NaN);
  return { rss: field('VmRSS'), hwm: field('VmHWM') };
}

/** Sends one message by DATA; resolves with the final reply. */
function sendOne(port: number, header: Buffer, body: Buffer): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket: Socket = connect({ port, host: '127.0.0.1' });
    let buffer = '';
    const steps = ['EHLO bench.test', 'MAIL FROM:<a@bench.test>', 'RCPT TO:<b@sink.test>', 'DATA'];
    let step = -1;
    socket.setEncoding('latin1');
    socket.on('error', reject);
    socket.on('data', (d: string) => {
      buffer += d;
      for (;;) {
        const m = /^(?:\d{3}-[^\n]*\n)*(\d{3})(?: [^\n]*)?\r\n/.exec(buffer);
        if (!m) return;
        buffer = buffer.slice(m[0].length);
        const code = Number(m[1]);
        if (step === steps.length - 1) {
          if (code !== 354) return finish(m[0]);
          step++;
          void writeContent().catch(reject);
          continue;
        }
        if (step === steps.length) return finish(m[0]);
        if (code >= 400) return finish(m[0]);
        step++;
        socket.write(steps[step] + '\r\n');
      }
    });
    const finish = (reply: string): void => {
      socket.end('QUIT\r\n');
      resolve(reply.trim());
    };
    const writeContent = async (): Promise<void> => {
      const parts = [header];
      for (let at = 0; at < body.length; at += 256 * 1024) parts.push(body.subarray(at, at + 256 * 1024));
      parts.push(Buffer.from('.\r\n'));
      for (const p of parts) {
        if (!socket.write(p)) await new Promise<void>((r) => socket.once('drain', () => r()));
      }
    };
  });
}

interface RunResult {
  mode: string;
  idleMiB: number;
  receivePeakMiB: number;
  deliverPeakMiB: number;
  hwmMiB: number;
  accepted: number;
  delivered: number;
  exact: number;
  receiveSeconds: number;
  deliverSeconds: number;
}

async function run(mode: string, body: Buffer): Promise<RunResult> {
  const sink = await startBenchSink({ expect: CLIENTS });
  const digests = new Map<string, string>();
  sink.onMessage = (m) => {
    // The content as sent lies behind the Received: header the relay added.
    const size = headerOf(Number(m.token?.slice(6))).length + body.length;
    digests.set(m.token ?? '', createHash('sha256').update(m.data.subarray(m.data.length - size)).digest('hex'));
  };
  const tables = mkdtempSync(join(tmpdir(), 'large-messages-'));
  writeFileSync(join(tables, 'hold'), '/^X-Bench-Token: large-/ HOLD\n');
  const daemon = await startDaemon({
    listenerMaxproc: '-',
    readyTimeoutMs: 120_000,
    params: {
      relayhost: `[127.0.0.1]:${sink.port}`,
      default_destination_concurrency_limit: '20',
      message_size_limit: String(BYTES * 2),
      message_spool_threshold: mode === 'spool' ? THRESHOLD : '0',
      header_checks: `regexp:${join(tables, 'hold')}`,
    },
  });
  const pid = daemon.child.pid as number;
  try {
    // Settle, then the idle figure.
    await new Promise((r) => setTimeout(r, 3000));
    const idle = rssKiB(pid).rss;
    let receivePeak = idle;
    let deliverPeak = idle;
    let receiving = true;
    const sampler = setInterval(() => {
      try {
        const { rss } = rssKiB(pid);
        if (receiving) receivePeak = Math.max(receivePeak, rss);
        else deliverPeak = Math.max(deliverPeak, rss);
      } catch {
        // The process is gone: the run fails below.
      }
    }, 20);
    const t0 = performance.now();
    const replies = await Promise.all(Array.from({ length: CLIENTS }, (_, i) => sendOne(daemon.port, headerOf(i), body).catch((err: Error) => `error ${err.message}`)));
    const receiveSeconds = (performance.now() - t0) / 1000;
    receiving = false;
    const accepted = replies.filter((r) => r.startsWith('250')).length;
    for (const r of new Set(replies.filter((x) => !x.startsWith('250')))) console.log(`  ${mode}: refused: ${r}`);
    const t1 = performance.now();
    const released = await daemon.cli(['queue', 'release', 'ALL']);
    if (released.code !== 0) console.log(`  ${mode}: queue release failed: ${released.stderr.trim()}`);
    await sink.whenAll(600_000);
    const deliverSeconds = (performance.now() - t1) / 1000;
    await new Promise((r) => setTimeout(r, 500));
    clearInterval(sampler);
    const hwm = rssKiB(pid).hwm;
    let exact = 0;
    for (let i = 0; i < CLIENTS; i++) {
      const want = createHash('sha256').update(headerOf(i)).update(body).digest('hex');
      if (digests.get(`large-${i}`) === want) exact++;
    }
    const mib = (k: number): number => Math.round(k / 102.4) / 10;
    return {
      mode, idleMiB: mib(idle), receivePeakMiB: mib(receivePeak), deliverPeakMiB: mib(deliverPeak), hwmMiB: mib(hwm),
      accepted, delivered: digests.size, exact, receiveSeconds: Math.round(receiveSeconds * 10) / 10, deliverSeconds: Math.round(deliverSeconds * 10) / 10,
    };
  } finally {
    await daemon.stop();
    rmSync(daemon.dir, { recursive: true, force: true });
    rmSync(tables, { recursive: true, force: true });
    await sink.close();
  }
}

const body = makeBody(BYTES);
console.log(`large-messages: ${CLIENTS} concurrent clients x ${body.length} byte bodies by DATA; message_spool_threshold=${THRESHOLD} (spool) vs 0 (memory)`);
let ok = true;
const results: RunResult[] = [];
for (const mode of MODES) {
  const r = await run(mode, body);
  results.push(r);
  const rise = (v: number): number => Math.round((v - r.idleMiB) * 10) / 10;
  console.log(`  ${mode.padEnd(6)} idle ${r.idleMiB} MiB; peak receiving ${r.receivePeakMiB} MiB (+${rise(r.receivePeakMiB)}) in ${r.receiveSeconds} s; ` +
    `peak delivering ${r.deliverPeakMiB} MiB (+${rise(r.deliverPeakMiB)}) in ${r.deliverSeconds} s; VmHWM ${r.hwmMiB} MiB; ` +
    `accepted ${r.accepted}/${CLIENTS}, delivered ${r.delivered}, byte-exact ${r.exact}`);
  if (r.accepted !== CLIENTS || r.exact !== CLIENTS) ok = false;
}
if (results.length === 2) {
  const [a, b] = results;
  const rise = (r: RunResult): number => r.receivePeakMiB - r.idleMiB;
  console.log(`  receive-phase rise: ${a.mode} ${Math.round(rise(a))} MiB vs ${b.mode} ${Math.round(rise(b))} MiB (ratio ${(rise(a) / rise(b)).toFixed(2)})`);
}
if (!ok) {
  console.log('FAILED: a message was refused, lost or changed');
  process.exit(1);
}
