import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { CaseResult } from '../../perf/harness/e2e-run.js';
import { formatRoleReport, medianRoles, scalingChecks, summarizeRoles } from '../../perf/harness/role-report.js';
import type { RoleUsage } from '../../perf/harness/role-usage.js';

function roles(smtpd: number, journal: number, smtp: number, other: number): RoleUsage[] {
  return [
    { role: 'smtpd', threads: 1, cpuMsPerMessage: smtpd, cores: 0.5, busy: 0.5 },
    { role: 'journal', threads: 1, cpuMsPerMessage: journal, cores: 0.2, busy: 0.2 },
    { role: 'smtp', threads: 4, cpuMsPerMessage: smtp, cores: 0.3, busy: 0.1 },
    { role: 'other', threads: 12, cpuMsPerMessage: other, cores: 0.1 },
  ];
}

function result(mta: string, round: number, e2e: number, extra: Partial<CaseResult>): CaseResult {
  return {
    mta, mode: 'kept', round, count: 100, size: 1024, sessions: 4, recipients: 1, accepted: 100, errors: 0, errorSamples: [],
    acceptPerSecond: e2e, endToEndPerSecond: e2e, latencyMs: { p50: 1, p99: 2, p999: 3 }, lost: 0, duplicated: 0,
    unexpected: 0, delivered: 100, sinkConnections: 4, acceptSeconds: 1, endToEndSeconds: 1, ...extra,
  };
}

test('role medians over rounds, "other" last, and the projection from them', () => {
  const cases = [
    result('postrider', 1, 500, { roles: roles(0.5, 0.3, 0.8, 0.4) }),
    result('postrider', 2, 600, { roles: [...roles(0.7, 0.2, 0.6, 0.2)].reverse() }),
    result('postrider', 3, 550, { roles: roles(0.6, 0.25, 0.7, 0.3) }),
  ];
  const m = medianRoles(cases);
  assert.deepEqual(m.map((r) => r.role), ['smtpd', 'journal', 'smtp', 'other']);
  assert.equal(m[0].cpuMsPerMessage, 0.6);
  const [s] = summarizeRoles(cases);
  assert.equal(s.rounds, 3);
  assert.ok(Math.abs(s.totalCpuMsPerMessage - 1.85) < 1e-9);
  // smtpd and smtp follow the cores, the journal has a shard per 4 cores (4,000 msg/s each at 0.25 ms):
  // the cores bind on every count, 8 cores: 8000 / 1.85 = 4324 against the journal's 2 x 4,000
  for (const p of s.projection) assert.equal(p.cappedBy, 'cores', `${p.cores} cores`);
  assert.ok(Math.abs(s.projection[1].messagesPerSecond - 8000 / 1.85) < 1e-6);
  assert.equal(s.projection[1].threadRole, 'journal');
  assert.equal(s.projection[1].threadRoleThreads, 2);
  const text = formatRoleReport(cases);
  assert.match(text, /^smtpd\s+1\s+0\.600\s+32%.*shared$/m);
  assert.match(text, /^journal\s+1\s+0\.250\s.*4000$/m);
  assert.match(text, /^other\s+12\s+0\.300/m);
  assert.match(text, /^8\s+4324\s+cores \(replicated roles share them\)$/m);
  // A journal capping: 64 cores with a costly journal name its 16 threads.
  const [heavy] = summarizeRoles([result('postrider', 1, 500, { roles: roles(0.1, 1.0, 0.1, 0.1) })]);
  assert.equal(heavy.projection[3].cappedBy, 'journal');
  assert.match(formatRoleReport([result('postrider', 1, 500, { roles: roles(0.1, 1.0, 0.1, 0.1) })]), /^64\s+16000\s+journal \(16 threads: a queue shard per 4 cores\)$/m);
  assert.doesNotMatch(text, /check/, 'no check without pinned runs');
});

test('the check: gain measured round by round against the gain the 1-CPU figures predict, the generator sharing the 2-CPU run', () => {
  const one = { cpus: '0', sourceCpus: '1', roles: roles(0.4, 0.2, 0.6, 0.3), benchCpuMsPerMessage: 0.5 };
  const two = { cpus: '0,1', sourceCpus: '1', roles: roles(0.4, 0.2, 0.6, 0.3), benchCpuMsPerMessage: 0.5 };
  const cases = [
    result('postrider@0', 1, 600, one), result('postrider@0,1', 1, 900, two),
    result('postrider@0,1', 2, 700, two), result('postrider@0', 2, 500, one),
  ];
  const [c] = scalingChecks(cases);
  assert.equal(c.mta, 'postrider');
  assert.equal(c.fromCores, 1);
  assert.equal(c.toCores, 2);
  assert.equal(c.measuredGain, (1.5 + 1.4) / 2);
  // 1 CPU: the MTA's 1.5 ms alone on it (the generator elsewhere) -> 666.7/s;
  // 2 CPUs: 1.5 + 0.5 ms over two cores -> 1000/s, below every singleton cap; gain 1.5
  assert.ok(Math.abs(c.predictedGain - 1.5) < 1e-9);
  assert.ok(Math.abs(c.error - Math.abs(1.5 - 1.45) / 1.45) < 1e-9);
  assert.equal(c.fromCappedBy, 'cores');
  // the roles kept 0.5 + 0.2 + 0.3 + 0.1 cores busy on each side
  assert.ok(Math.abs(c.fromCoresUsed - 1.1) < 1e-9);
  const text = formatRoleReport(cases);
  assert.match(text, /scaling model check/);
  assert.match(text, /0 -> 0,1\s+1\.45x\s+1\.50x\s+3%/);
  assert.match(text, /1\.10 of 1 -> 1\.10 of 2$/m);
  assert.doesNotMatch(text, /note:/, 'the 1-CPU run had its core');
});

test('the check says when the MTA could not keep its pinned core busy (a machine busy with other work)', () => {
  const starved = (cpus: string): Partial<CaseResult> => ({
    cpus, sourceCpus: '1', benchCpuMsPerMessage: 0.5,
    roles: roles(0.4, 0.2, 0.6, 0.3).map((r) => ({ ...r, cores: r.cores / 10 })),
  });
  const text = formatRoleReport([result('postrider@0', 1, 60, starved('0')), result('postrider@0,1', 1, 110, starved('0,1'))]);
  assert.match(text, /note: the MTA kept 0\.11 of its 1 pinned core busy \(kept 1024\): other work on the machine took the rest/);
});
