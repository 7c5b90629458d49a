import { test } from 'node:test';
import assert from 'node:assert/strict';
import { formatStatus } from '../../src/cli/status-format.js';
import type { SupervisorStatus } from '../../src/supervisor/supervisor-types.js';

test('the running line, then one line per thread with its CPU seconds, then the process', () => {
  const st: SupervisorStatus = {
    pid: 42, ready: true, uptimeSeconds: 90,
    actors: [
      { role: 'smtpd', kind: 'daemon', instance: 1, service: '127.0.0.1:25', threadId: 1, restarts: 0, uptimeSeconds: 89, state: 'running', load: 0.25, cpuSeconds: 12.345 },
      { role: 'smtp', kind: 'delivery', instance: 1, service: 'relay', threadId: 0, restarts: 2, uptimeSeconds: 0, state: 'restarting', load: 0 },
    ],
    mainThread: { cpuSeconds: 1.5, cpuUserSeconds: 1, cpuSystemSeconds: 0.5, eventLoopActiveSeconds: 1, load: 0.01 },
    process: { cpuSeconds: 20, cpuUserSeconds: 15, cpuSystemSeconds: 5, threads: 19 },
  };
  const lines = formatStatus(st).split('\n');
  assert.equal(lines[0], 'postrider: the Postrider mail system is running: PID: 42');
  assert.match(lines[2], /^smtpd\s+127\.0\.0\.1:25\s+1\s+running\s+0\s+89\s+0\.25\s+12\.35$/);
  assert.match(lines[3], /^smtp\s+relay\s+0\s+restarting\s+2\s+0\s+0\.00\s+-$/, 'no CPU figure while restarting');
  assert.match(lines[4], /^main thread\s+-\s+0\s+running\s+-\s+90\s+0\.01\s+1\.50$/);
  assert.match(lines[5], /^process \(19 threads\)\s+20\.00$/);
  assert.equal(lines[6], '');
  assert.equal(lines.length, 7);
});

test('a daemon that sends no actors and no thread figures: the running line alone', () => {
  assert.equal(formatStatus({ pid: 7, ready: false, uptimeSeconds: 0, actors: [] }), 'postrider: the Postrider mail system is running: PID: 7\n');
});
