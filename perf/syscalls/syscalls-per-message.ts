/**
 * syscalls-per-message: the system calls the Postrider daemon makes per
 * message relayed. Starts the daemon on a temporary configuration relaying
 * to the harness sink, warms it up, then attaches `strace -f -c` to the
 * daemon (every thread) for a fixed run of the harness generator and
 * detaches once the sink has every message. Prints each system call's count
 * per message, and the totals by kind (socket writes, reads, epoll, futex,
 * fsync, ...). Needs strace on PATH and ptrace permission on the daemon
 * (its own child). Exits 1 when strace fails or a message is lost.
 *
 * Environment: SYSCALL_MESSAGES (default 2000), SYSCALL_SESSIONS (16),
 * SYSCALL_SIZE (1024 bytes), SYSCALL_MODE (kept | per-connection).
 */
import { spawn } from 'node:child_process';
import { readFileSync, rmSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBenchSink } from '../harness/bench-sink.js';
import { startMta } from '../harness/mta-under-test.js';
import { runSource } from '../harness/smtp-source.js';

const MESSAGES = Number(process.env.SYSCALL_MESSAGES ?? 2000);
const SESSIONS = Number(process.env.SYSCALL_SESSIONS ?? 16);
const SIZE = Number(process.env.SYSCALL_SIZE ?? 1024);
const MODE = process.env.SYSCALL_MODE === 'per-connection' ? 'per-connection' : 'kept';
const WARMUP = 300;

/** System calls grouped by what they are for. */
const KINDS: Array<[string, RegExp]> = [
  ['socket write', /^(write|writev|sendmsg|sendto|sendmmsg)$/],
  ['read', /^(read|readv|recvmsg|recvfrom|pread64|preadv)$/],
  ['file write', /^(pwrite64|pwritev)$/],
  ['fsync', /^(fsync|fdatasync|sync_file_range)$/],
  ['epoll', /^epoll_/],
  ['futex', /^futex$/],
  ['accept/connect/close', /^(accept4?|connect|close|socket|shutdown|setsockopt|getsockopt|getpeername|getsockname|bind|listen)$/],
  ['memory', /^(mmap|munmap|mprotect|madvise|brk|mremap)$/],
];

/** Parses `strace -c` output: syscall -> calls. */
function parseSummary(text: string): Map<string, number> {
  const out = new Map<string, number>();
  for (const line of text.split('\n')) {
    const f = line.trim().split(/\s+/);
    if (f.length < 5 || !/^\d/.test(f[0]) || f[f.length - 1] === 'total') continue;
    const name = f[f.length - 1];
    // columns: % time, seconds, usecs/call, calls, [errors,] syscall
    out.set(name, Number(f[3]));
  }
  return out;
}

async function main(): Promise<number> {
  const sink = await startBenchSink({ expect: WARMUP + MESSAGES });
  const mta = await startMta({ kind: 'postrider' }, sink.port);
  const dir = mkdtempSync(join(tmpdir(), 'postrider-strace-'));
  const out = join(dir, 'strace.txt');
  try {
    const perConnection = MODE === 'per-connection' ? 1 : 0;
    await runSource({ host: '127.0.0.1', port: mta.port, count: WARMUP, sessions: SESSIONS, size: SIZE, messagesPerConnection: perConnection });
    // Let the warm-up reach the sink before counting.
    for (let i = 0; i < 100 && sink.stats().messages < WARMUP; i++) await new Promise((r) => setTimeout(r, 100));
    const strace = spawn('strace', ['-f', '-c', '-o', out, '-p', String(mta.pid)], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    strace.stderr.on('data', (b: Buffer) => (err += b.toString()));
    const exited = new Promise<number | null>((r) => strace.on('exit', (code) => r(code)));
    // strace prints "attached" lines for each thread once it holds them.
    for (let i = 0; i < 50 && !err.includes('attached'); i++) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 500));
    const t0 = Date.now();
    const result = await runSource({ host: '127.0.0.1', port: mta.port, count: MESSAGES, sessions: SESSIONS, size: SIZE, messagesPerConnection: perConnection });
    const all = await sink.whenAll(120_000);
    const seconds = (Date.now() - t0) / 1000;
    strace.kill('SIGINT');
    const code = await exited;
    if (code !== 0 && code !== null) {
      process.stderr.write(`syscalls-per-message: strace exited with ${code}: ${err.trim().split('\n').pop()}\n`);
      return 1;
    }
    const counts = parseSummary(readFileSync(out, 'utf8'));
    const n = result.accepted.length;
    process.stdout.write(`mode ${MODE}, ${SIZE} bytes, ${SESSIONS} sessions, ${n} messages accepted, ${sink.stats().messages - WARMUP} relayed, ${seconds.toFixed(1)} s under strace\n`);
    let total = 0;
    const byKind = new Map<string, number>();
    for (const [name, calls] of counts) {
      total += calls;
      const kind = KINDS.find(([, re]) => re.test(name))?.[0] ?? 'other';
      byKind.set(kind, (byKind.get(kind) ?? 0) + calls);
    }
    process.stdout.write(`total ${(total / n).toFixed(2)} syscalls per message\n`);
    for (const [kind, calls] of [...byKind].sort((a, b) => b[1] - a[1])) process.stdout.write(`  ${kind.padEnd(22)} ${(calls / n).toFixed(2)}\n`);
    process.stdout.write('by system call:\n');
    for (const [name, calls] of [...counts].sort((a, b) => b[1] - a[1])) {
      if (calls / n >= 0.01) process.stdout.write(`  ${name.padEnd(22)} ${(calls / n).toFixed(2)}\n`);
    }
    if (!all || n !== MESSAGES) {
      process.stderr.write(`syscalls-per-message: ${MESSAGES - n} not accepted or not relayed\n`);
      return 1;
    }
    return 0;
  } finally {
    await mta.stop();
    await sink.close();
    rmSync(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
