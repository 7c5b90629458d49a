import { test } from 'node:test';
import assert from 'node:assert/strict';
import { gainError, isSingleton, predictedGain, project, projectTable, PROJECTED_CORES, threadsOn, type RoleCost } from '../../perf/harness/scaling-model.js';
import { roleCosts } from '../../perf/harness/role-report.js';

// A profile shaped like the daemon's: one smtpd thread, singletons journal and qmgr, a replicated smtp pool.
const ROLES: RoleCost[] = [
  { role: 'smtpd', threads: 1, cpuMsPerMessage: 0.5 },
  { role: 'journal', threads: 1, cpuMsPerMessage: 0.25 },
  { role: 'qmgr', threads: 1, cpuMsPerMessage: 0.2 },
  { role: 'smtp', threads: 4, cpuMsPerMessage: 0.8 },
  { role: 'other', threads: 12, cpuMsPerMessage: 0.25, singleton: false },
];

test('one core: the cores bound is 1000 / the total CPU-ms per message', () => {
  const p = project(ROLES, 1);
  assert.equal(p.cappedBy, 'cores');
  assert.ok(Math.abs(p.messagesPerSecond - 1000 / 2.0) < 1e-9);
  assert.equal(p.threadRole, 'smtpd');
  assert.equal(p.threadBound, 2000);
  assert.equal(p.threadRoleThreads, 1);
});

test('more cores: replicated roles share them until the costliest singleton caps the rate', () => {
  const table = projectTable(ROLES);
  assert.deepEqual(table.map((p) => p.cores), [...PROJECTED_CORES]);
  // 2 cores: 2000 / 2.0 = 1000, below smtpd's 2000
  assert.equal(table[0].cappedBy, 'cores');
  assert.ok(Math.abs(table[0].messagesPerSecond - 1000) < 1e-9);
  // 8 cores and on: 4000 from the cores, but smtpd (one thread, 0.5 ms) caps at 2000
  for (const p of table.slice(1)) {
    assert.equal(p.cappedBy, 'smtpd');
    assert.equal(p.messagesPerSecond, 2000);
  }
});

test('a singleton costing nothing caps nothing; no CPU at all projects Infinity', () => {
  const idle: RoleCost = { role: 'pickup', threads: 1, cpuMsPerMessage: 0 };
  assert.equal(project([idle], 4).messagesPerSecond, Infinity);
  assert.equal(project([idle, { role: 'smtp', threads: 3, cpuMsPerMessage: 1 }], 2).messagesPerSecond, 2000);
  assert.equal(project([], 8).messagesPerSecond, Infinity);
});

test('singleton by thread count unless said otherwise', () => {
  assert.equal(isSingleton({ role: 'a', threads: 1, cpuMsPerMessage: 1 }), true);
  assert.equal(isSingleton({ role: 'b', threads: 3, cpuMsPerMessage: 1 }), false);
  assert.equal(isSingleton({ role: 'c', threads: 1, cpuMsPerMessage: 1, singleton: false }), false);
  assert.equal(isSingleton({ role: 'd', threads: 2, cpuMsPerMessage: 1, singleton: true }), true);
});

test('a role that does not share the cores bounds the rate by its cap only', () => {
  // A load generator pinned to a core of its own: its CPU is not taken from the MTA's core.
  const apart: RoleCost[] = [{ role: 'mta', threads: 2, cpuMsPerMessage: 2 }, { role: 'gen', threads: 1, cpuMsPerMessage: 1, sharesCores: false }];
  assert.equal(project(apart, 1).messagesPerSecond, 500);
  // sharing: 2 cores for 3 ms per message
  const shared: RoleCost[] = [apart[0], { ...apart[1], sharesCores: true }];
  assert.ok(Math.abs(project(shared, 2).messagesPerSecond - 2000 / 3) < 1e-9);
  // and its cap still binds when it is the slowest
  assert.equal(project([{ role: 'mta', threads: 2, cpuMsPerMessage: 0.1 }, { role: 'gen', threads: 1, cpuMsPerMessage: 4, sharesCores: false }], 8).cappedBy, 'gen');
});

test('the predicted gain and its error against a measured gain', () => {
  assert.ok(Math.abs(predictedGain(ROLES, 1, 2) - 2) < 1e-9);
  assert.equal(predictedGain(ROLES, 2, 64), 2);
  assert.ok(Math.abs(gainError(1.8, 1.5) - 0.2) < 1e-9);
  assert.ok(Number.isNaN(gainError(Infinity, 1.5)));
  assert.ok(Number.isNaN(gainError(1.2, 0)));
});

test('a sharded role has a thread per K cores: its cap grows with them, so the shared cores bind instead', () => {
  // The daemon's shape today: smtpd on every core, a journal and a qmgr per queue shard (one per four cores).
  const sharded: RoleCost[] = [
    { role: 'smtpd', threads: 2, cpuMsPerMessage: 0.6 },
    { role: 'journal', threads: 1, cpuMsPerMessage: 0.25, coresPerThread: 4 },
    { role: 'qmgr', threads: 1, cpuMsPerMessage: 0.2, coresPerThread: 4 },
    { role: 'smtp', threads: 2, cpuMsPerMessage: 0.4 },
    { role: 'trivial-rewrite', threads: 1, cpuMsPerMessage: 0.01 },
  ];
  assert.equal(isSingleton(sharded[1]), false);
  assert.deepEqual([1, 2, 4, 5, 16, 64].map((n) => threadsOn(sharded[1], n)), [1, 1, 1, 2, 4, 16]);
  assert.equal(threadsOn(sharded[0], 64), undefined, 'a replicated role has no cap of its own');
  assert.equal(threadsOn(sharded[4], 64), 1);
  const total = 1.46;
  for (const p of projectTable(sharded)) {
    // 64 cores: 16 journal threads allow 64,000 msg/s; the cores allow 64,000 / 1.46
    assert.equal(p.cappedBy, 'cores', `${p.cores} cores`);
    assert.ok(Math.abs(p.messagesPerSecond - (p.cores * 1000) / total) < 1e-6);
    assert.equal(p.threadRole, 'journal');
    assert.equal(p.threadRoleThreads, Math.ceil(p.cores / 4));
    assert.ok(Math.abs(p.threadBound - (Math.ceil(p.cores / 4) * 1000) / 0.25) < 1e-6);
  }
  // The same journal as a singleton would cap every host at 4,000.
  assert.equal(project(sharded.map((r) => ({ ...r, coresPerThread: undefined })), 64).cappedBy, 'journal');
});

test("the bench's roles: the journal and qmgr are sharded, trivial-rewrite and the main thread singletons, smtpd, smtp and other shared", () => {
  const costs = roleCosts([
    { role: 'smtpd', threads: 1, cpuMsPerMessage: 0.6, cores: 0.5 },
    { role: 'smtp', threads: 1, cpuMsPerMessage: 0.4, cores: 0.3 },
    { role: 'journal', threads: 1, cpuMsPerMessage: 0.2, cores: 0.2 },
    { role: 'qmgr', threads: 1, cpuMsPerMessage: 0.2, cores: 0.2 },
    { role: 'trivial-rewrite', threads: 1, cpuMsPerMessage: 0.01, cores: 0 },
    { role: 'main thread', threads: 1, cpuMsPerMessage: 0.01, cores: 0 },
    { role: 'other', threads: 1, cpuMsPerMessage: 0.3, cores: 0.3 },
  ]);
  // One core's measurement (every role one thread) says the same of 16 cores.
  assert.deepEqual(costs.map((c) => threadsOn(c, 16)), [undefined, undefined, 4, 4, 1, 1, undefined]);
});
