import { test } from 'node:test';
import assert from 'node:assert/strict';
import { roleUsage, threadReading } from '../../perf/harness/role-usage.js';

function status(cpu: Record<string, number>, main: number, proc: number, threads = 20): unknown {
  return {
    pid: 1,
    actors: Object.entries(cpu).map(([key, cpuSeconds]) => {
      const [role, threadId] = key.split('#');
      return { role, threadId: Number(threadId), state: 'running', cpuSeconds, eventLoopActiveSeconds: cpuSeconds / 2 };
    }),
    mainThread: { cpuSeconds: main, eventLoopActiveSeconds: main, load: 0 },
    process: { cpuSeconds: proc, threads },
  };
}

test('threads of a role are summed and counted; the main thread and the rest of the process are roles of their own', () => {
  const before = threadReading(status({ 'smtpd#1': 1, 'smtpd#2': 1, 'journal#3': 2 }, 0.5, 10), 0);
  // 2 s later, 1000 messages: smtpd threads used 0.4 + 0.6 s, the journal 0.3 s, main 0.1 s, the process 2 s in all
  const after = threadReading(status({ 'smtpd#1': 1.4, 'smtpd#2': 1.6, 'journal#3': 2.3 }, 0.6, 12, 30), 2000);
  const rows = roleUsage(before, after, 1000);
  assert.deepEqual(rows.map((r) => r.role), ['smtpd', 'journal', 'main thread', 'other']);
  const by = Object.fromEntries(rows.map((r) => [r.role, r]));
  assert.equal(by.smtpd.threads, 2);
  assert.ok(Math.abs(by.smtpd.cpuMsPerMessage - 1.0) < 1e-9);
  assert.ok(Math.abs(by.smtpd.cores - 0.5) < 1e-9);
  // each smtpd thread's loop was busy half its CPU: 0.5 s of 2 s over 2 threads
  assert.ok(Math.abs((by.smtpd.busy ?? 0) - 0.125) < 1e-9);
  assert.ok(Math.abs(by.journal.cpuMsPerMessage - 0.3) < 1e-9);
  assert.ok(Math.abs(by['main thread'].cpuMsPerMessage - 0.1) < 1e-9);
  // 2 s - (1.0 + 0.3 + 0.1) s = 0.6 s outside the listed threads; 30 threads less the 4 listed
  assert.ok(Math.abs(by.other.cpuMsPerMessage - 0.6) < 1e-9);
  assert.equal(by.other.threads, 26);
  const sum = rows.reduce((s, r) => s + r.cpuMsPerMessage, 0);
  assert.ok(Math.abs(sum - 2.0) < 1e-9, 'the roles add up to the process');
});

test('a thread started in the window counts from zero; one gone is left to "other"; a restarting actor is skipped', () => {
  const before = threadReading(status({ 'smtp#5': 3 }, 0, 10), 0);
  const after = threadReading({
    actors: [
      { role: 'smtp', threadId: 7, cpuSeconds: 0.2 },
      { role: 'smtp', threadId: 0, state: 'restarting' },
    ],
    process: { cpuSeconds: 11 },
  }, 1000);
  const rows = roleUsage(before, after, 100);
  assert.equal(rows.length, 2);
  assert.equal(rows[0].role, 'smtp');
  assert.equal(rows[0].threads, 1);
  assert.ok(Math.abs(rows[0].cpuMsPerMessage - 2) < 1e-9);
  assert.equal(rows[0].busy, undefined, 'no event-loop figure for the new thread');
  assert.ok(Math.abs(rows[1].cpuMsPerMessage - 8) < 1e-9);
  assert.equal(rows[1].threads, 0, 'thread count unknown');
});

test('without a process total there is no "other"; no messages gives NaN per message', () => {
  const r = roleUsage(threadReading({ actors: [{ role: 'qmgr', threadId: 2, cpuSeconds: 1 }] }, 0), threadReading({ actors: [{ role: 'qmgr', threadId: 2, cpuSeconds: 2 }] }, 1000), 0);
  assert.equal(r.length, 1);
  assert.ok(Number.isNaN(r[0].cpuMsPerMessage));
  assert.equal(r[0].cores, 1);
  assert.deepEqual(threadReading(null, 0).threads, []);
});
