/**
 * content-scans bench: tinybench micro-benchmark of the scans every message
 * goes through on its way, at 1 KiB and 64 KiB of CRLF lines: smtp-server's
 * own DATA parser against smtpd's (smtpd-data-scan), and, for the checks
 * made by one regular-expression scan or by window steps (bare line ends
 * in smtpd and cleanup, the smtp client's escaping, smtp_line_length_limit),
 * the walk they replaced: a native search for every LF and a look at its
 * neighbours. Prints tinybench's table, then each case's mean time and the
 * ratios to the per-line walk and of the two DATA parsers.
 * Run: node <build>/perf/smtp/content-scans.bench.js  (BENCH_TIME_MS to change the time per case)
 */
import { Bench } from 'tinybench';
import { SMTPStream } from 'smtp-server/lib/smtp-stream.js';
import { dotStuff } from '../../src/actors/smtp/smtp-dot-stuff.js';
import { hasLongLine } from '../../src/actors/smtp/smtp-line-limit.js';
import { feedDataStream } from '../../src/actors/smtpd/smtpd-data-scan.js';
import { hasBareLineEnd } from '../../src/util/line-ends.js';

const LF = 0x0a;
const CR = 0x0d;
const DOT = 0x2e;

/** Lines of 76 octets and CRLF, as a mail body, `size` bytes or a little more. */
function content(size: number): Buffer {
  const lines: string[] = [];
  for (let n = 0; n < size; n += 78) lines.push('y'.repeat(76));
  return Buffer.from(lines.join('\r\n') + '\r\n');
}

/** The walk the checks replaced: every LF found by a native search, its neighbours and its line's length looked at. */
function perLineWalk(buf: Buffer, limit: number): boolean {
  let start = 0;
  for (let lf = buf.indexOf(LF); lf >= 0; lf = buf.indexOf(LF, lf + 1)) {
    if (lf === 0 || buf[lf - 1] !== CR || buf[lf + 1] === DOT || lf - 1 - start > limit) return true;
    start = lf + 1;
  }
  return false;
}

/** Parses `message` (content, then the end of data) through a fresh parser in data mode; resolves with the bytes it emitted. */
function parseData(message: Buffer, fast: boolean): Promise<number> {
  const parser = new SMTPStream();
  if (fast) parser._feedDataStream = (chunk, done) => feedDataStream(parser, chunk, done);
  parser.oncommand = (_c: Buffer, cb?: () => void) => cb?.();
  const data = parser.startDataMode();
  let bytes = 0;
  data.on('data', (d: Buffer) => (bytes += d.length));
  return new Promise((resolve) => {
    data.on('end', () => {
      parser.continue();
      resolve(bytes);
    });
    // Socket-sized pieces, as a connection delivers them.
    for (let at = 0; at < message.length; at += 16_384) parser.write(message.subarray(at, at + 16_384));
  });
}

const END = Buffer.from('.\r\n');
let sink = 0;
const bench = new Bench({ time: Number(process.env.BENCH_TIME_MS ?? 1000) });
for (const size of [1024, 65_536]) {
  const body = content(size);
  const message = Buffer.concat([body, END]);
  const label = `${Math.round(size / 1024)} KiB`;
  bench.add(`per-line walk, ${label}`, () => {
    sink += perLineWalk(body, 990) ? 1 : 0;
  });
  bench.add(`bare line end check, ${label}`, () => {
    sink += hasBareLineEnd(body) ? 1 : 0;
  });
  bench.add(`smtp escaping, ${label}`, () => {
    sink += dotStuff(body, LF).length;
  });
  bench.add(`long line check, ${label}`, () => {
    sink += hasLongLine(body, 990) ? 1 : 0;
  });
  bench.add(`DATA parse, smtp-server's, ${label}`, async () => {
    sink += await parseData(message, false);
  });
  bench.add(`DATA parse, smtpd's, ${label}`, async () => {
    sink += await parseData(message, true);
  });
}
await bench.run();
console.table(bench.table());
const mean = (name: string): number => {
  const r = bench.tasks.find((t) => t.name === name)?.result;
  return r && 'period' in r ? r.period : NaN;
};
for (const label of ['1 KiB', '64 KiB']) {
  const walk = mean(`per-line walk, ${label}`);
  for (const name of ['bare line end check', 'smtp escaping', 'long line check']) {
    const m = mean(`${name}, ${label}`);
    console.log(`${name}, ${label}: ${(m * 1000).toFixed(1)} us, ${(m / walk).toFixed(2)} of the per-line walk (${(walk * 1000).toFixed(1)} us)`);
  }
  const lib = mean(`DATA parse, smtp-server's, ${label}`);
  const ours = mean(`DATA parse, smtpd's, ${label}`);
  console.log(`DATA parse, ${label}: smtpd's ${(ours * 1000).toFixed(1)} us, smtp-server's ${(lib * 1000).toFixed(1)} us: ${(ours / lib).toFixed(2)}`);
}
if (sink === 0) throw new Error('nothing was scanned');
