/**
 * accept: messages per second that one Smtpd (one thread) accepts into a
 * submit function that resolves at once, with smtpd_greet_wait = 0s:
 * one message per connection, and many messages per kept-open connection.
 * The load comes from a worker thread (raw sockets, PIPELINING of MAIL,
 * RCPT and DATA) so the server keeps its own thread. Each case runs about
 * SMTPD_PERF_CASE_MS (default 3000) ms with SMTPD_PERF_CLIENTS (default 8)
 * concurrent connections; 1 KiB messages. Besides the rate it prints the
 * smtpd thread's own CPU time per message (process.threadCpuUsage), which
 * the load thread's work does not blur.
 */
import { connect, type Socket } from 'node:net';
import { isMainThread, parentPort, Worker, workerData } from 'node:worker_threads';
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MainConfig } from '../../src/config/main-config.js';
import { configureLogging, Logger } from '../../src/util/log.js';
import { Smtpd } from '../../src/actors/smtpd/smtpd.js';

const CASE_MS = Number(process.env.SMTPD_PERF_CASE_MS ?? 3000);
const CLIENTS = Number(process.env.SMTPD_PERF_CLIENTS ?? 8);
const BODY = 'Subject: perf\r\nFrom: a@perf.example\r\nTo: b@perf.example\r\n\r\n' + ('x'.repeat(70) + '\r\n').repeat(13) + '.\r\n';

interface Job {
  port: number;
  perConnection: number;
  clients: number;
  ms: number;
}

/** A reply reader over one socket: resolves after `n` final reply lines. */
class Lines {
  private buf = '';
  private want = 0;
  private got: string[] = [];
  private done?: (lines: string[]) => void;
  constructor(private readonly socket: Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buf += d;
      let i: number;
      while ((i = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 1);
        if (line[3] === '-') continue;
        this.got.push(line);
        if (this.got.length >= this.want && this.done) {
          const d2 = this.done;
          this.done = undefined;
          const out = this.got;
          this.got = [];
          d2(out);
        }
      }
    });
  }
  next(n: number): Promise<string[]> {
    this.want = n;
    return new Promise((resolve) => {
      this.done = resolve;
      if (this.got.length >= n) {
        const out = this.got;
        this.got = [];
        this.done = undefined;
        resolve(out);
      }
    });
  }
}

async function session(port: number, messages: number, deadline: number): Promise<number> {
  const socket = connect(port, '127.0.0.1');
  socket.setNoDelay(true);
  socket.on('error', () => undefined);
  const lines = new Lines(socket);
  await lines.next(1);
  socket.write('EHLO load.perf.example\r\n');
  await lines.next(1);
  let sent = 0;
  while (sent < messages && Date.now() < deadline) {
    socket.write('MAIL FROM:<a@perf.example>\r\nRCPT TO:<b@mx.perf.example>\r\nDATA\r\n');
    const r = await lines.next(3);
    if (!r[2].startsWith('354')) throw new Error(`unexpected ${r.join(' | ')}`);
    socket.write(BODY);
    const q = await lines.next(1);
    if (!q[0].startsWith('250')) throw new Error(`unexpected ${q[0]}`);
    sent++;
  }
  socket.write('QUIT\r\n');
  await lines.next(1);
  socket.destroy();
  return sent;
}

async function load(job: Job): Promise<number> {
  const deadline = Date.now() + job.ms;
  let total = 0;
  await Promise.all(
    Array.from({ length: job.clients }, async () => {
      while (Date.now() < deadline) {
        const n = await session(job.port, job.perConnection, deadline);
        total += n;
      }
    }),
  );
  return total;
}

interface CaseResult {
  perSecond: number;
  messages: number;
  /** CPU time of the smtpd thread (this one) per message, in microseconds. */
  cpuMicros: number;
}

async function runCase(port: number, perConnection: number): Promise<CaseResult> {
  const worker = new Worker(fileURLToPath(import.meta.url), { workerData: { port, perConnection, clients: CLIENTS, ms: CASE_MS } satisfies Job });
  const start = performance.now();
  const cpu = process.threadCpuUsage();
  const messages = await new Promise<number>((resolve, reject) => {
    worker.once('message', resolve);
    worker.once('error', reject);
  });
  const used = process.threadCpuUsage(cpu);
  const seconds = (performance.now() - start) / 1000;
  await worker.terminate();
  return { perSecond: messages / seconds, messages, cpuMicros: (used.user + used.system) / Math.max(1, messages) };
}

async function main(): Promise<void> {
  const lines: string[] = [];
  configureLogging({ sink: { write: (l) => void lines.push(l), flush: () => undefined, reopen: () => undefined } });
  const dir = mkdtempSync(join(tmpdir(), 'smtpd-perf-'));
  let accepted = 0;
  const smtpd = new Smtpd({
    // No local recipient table: the check would need the system's users.
    config: new MainConfig({ myhostname: 'mx.perf.example', mydestination: 'mx.perf.example', local_recipient_maps: '', mynetworks: '127.0.0.0/8', smtpd_greet_wait: '0s' }, dir),
    service: { name: '127.0.0.1:0', type: 'inet', private: false, unpriv: true, chroot: false, wakeup: '-', maxproc: null, command: 'smtpd', args: [], overrides: {}, file: 'master.cf', line: 1 },
    log: new Logger('smtpd', 0),
    idSalt: 0,
    submit: async (s) => {
      accepted++;
      return { ok: true, queueId: s.queueId };
    },
  });
  const { port } = await smtpd.listen();
  const results: Array<[string, CaseResult]> = [];
  for (const [label, per] of [
    ['1 message per connection', 1],
    ['100 messages per connection', 100],
  ] as Array<[string, number]>) {
    lines.length = 0;
    results.push([label, await runCase(port, per)]);
  }
  await smtpd.close();
  console.log(`smtpd accept, 1 KiB messages, ${CLIENTS} concurrent clients, ${CASE_MS} ms per case, smtpd_greet_wait=0s`);
  for (const [label, r] of results) {
    console.log(`  ${label.padEnd(28)} ${r.perSecond.toFixed(0).padStart(7)} messages/s  ${r.cpuMicros.toFixed(0).padStart(5)} µs smtpd CPU a message  (${r.messages} messages)`);
  }
  console.log(`  submit() calls: ${accepted}`);
}

if (isMainThread) {
  await main();
} else {
  const n = await load(workerData as Job);
  parentPort!.postMessage(n);
}
