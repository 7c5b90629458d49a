/**
 * The soak's bounded run in the suite: 24 seconds of mixed load (kept
 * and new connections, up to 512 KiB, deferrals and refusals at the sink)
 * through the real daemon with three faults (an smtp actor exits, qmgr
 * throws, the whole daemon is SIGKILLed and started again) and reloads;
 * then the queue drains and every accepted recipient is accounted for:
 * delivered or bounced as its fate says, none lost, and the daemon never
 * exited by itself.
 */
import { test, before } from 'node:test';
import assert from 'node:assert/strict';
import { runSoak, soakProblems, type SoakReport } from '../../perf/soak/soak-run.js';
import { parseFaultPlan } from '../../perf/soak/soak-faults.js';

let report: SoakReport;

before(async () => {
  report = await runSoak({
    minutes: 0.4,
    rate: 8,
    maxSize: 512 * 1024,
    keptSessions: 2,
    newSessions: 1,
    faultEverySec: 7,
    faultPlan: parseFaultPlan('smtp:1:exit,qmgr:1:throw,sigkill'),
    reloadEverySec: 10,
    drainTimeoutSec: 60,
    seed: 0x50a4,
  });
});

test('nothing accepted is lost through actor faults, a SIGKILL and a reload', () => {
  assert.deepEqual(soakProblems(report), [], JSON.stringify({ account: report.account, examples: report.examples, faults: report.faults }));
  assert.equal(report.account.lost, 0);
  assert.equal(report.account.messagesComplete, report.account.messages);
});

test('the soak exercised what it claims: faults, a reload, deliveries, bounces and deferrals', () => {
  assert.ok(report.account.messages >= 50, `only ${report.account.messages} messages accepted`);
  assert.ok(report.account.delivered > 0 && report.account.bounced > 0, JSON.stringify(report.account));
  assert.ok(report.sink.refusals.rcpt450 > 0 && report.sink.refusals.data554 > 0, JSON.stringify(report.sink.refusals));
  assert.equal(report.faults.length, 3);
  assert.equal(report.faultsFailed, 0, JSON.stringify(report.faults));
  assert.ok(report.faults.some((f) => f.fault === 'SIGKILL the daemon' && f.downSec !== undefined));
  assert.ok(report.restarts >= 2, `restarts ${JSON.stringify(report.restartsByRole)}`);
  assert.ok(report.reloads >= 1);
  assert.equal(report.daemonExits, 0);
});
