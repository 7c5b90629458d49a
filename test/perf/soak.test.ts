/**
 * The soak. Its bounded run in the suite: 24 seconds of mixed load (kept
 * and new connections, up to 512 KiB, deferrals and refusals at the sink)
 * through the real daemon with three faults (an smtp actor exits, qmgr
 * throws, the whole daemon is SIGKILLed and started again) and reloads;
 * then the queue drains and every accepted recipient is accounted for:
 * delivered or bounced as its fate says, none lost, and the daemon never
 * exited by itself. And its planning and accounting, which decide what the
 * long soak reports.
 */
import { describe, test, before } from 'node:test';
import assert from 'node:assert/strict';
import { runSoak, soakProblems, type SoakReport } from '../../perf/soak/soak-run.js';
import { ACTOR_FAULT_KINDS, describeFault, faultAt, parseFaultPlan } from '../../perf/soak/soak-faults.js';
import { accountSoak, allAccounted, type AcceptedMessage } from '../../perf/soak/soak-account.js';
import { expectedOutcome, messageFate, recipientAddress, recipientFate } from '../../perf/soak/soak-fates.js';
import type { Tally } from '../../perf/soak/soak-sink.js';

describe('a short soak through the real daemon', () => {
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
  }, { timeout: 300_000 });

  test('nothing accepted is lost through actor faults, a SIGKILL and reloads', () => {
    assert.deepEqual(soakProblems(report), [], JSON.stringify({ account: report.account, examples: report.examples, faults: report.faults }));
    assert.equal(report.account.lost, 0);
    assert.equal(report.account.messagesComplete, report.account.messages);
  });

  test('the soak exercised what it claims: faults, reloads, deliveries, bounces and deferrals', () => {
    assert.ok(report.account.messages >= 50, `only ${report.account.messages} messages accepted`);
    assert.ok(report.account.delivered > 0 && report.account.bounced > 0, JSON.stringify(report.account));
    assert.ok(report.sink.refusals.rcpt450 > 0 && report.sink.refusals.data554 > 0, JSON.stringify(report.sink.refusals));
    assert.equal(report.faults.length, 3);
    assert.equal(report.faultsFailed, 0, JSON.stringify(report.faults));
    assert.ok(report.faults.some((f) => f.fault === 'SIGKILL the daemon' && f.downSec !== undefined));
    assert.ok(report.restarts >= 2, `restarts ${JSON.stringify(report.restartsByRole)}`);
    assert.ok(report.reloads >= 1);
    assert.equal(report.daemonExits, 0);
    assert.ok(report.rss.samples.length >= 2 && report.rss.maxMiB > 0);
  });
});

describe('fault rotation', () => {
  const roles = new Map([['smtpd', 1], ['qmgr', 1], ['smtp', 2], ['journal', 1], ['bounce', 1]]);

  test('every role meets every kind, and instances rotate', () => {
    const pairs = new Set<string>();
    const smtpInstances = new Set<number>();
    for (let i = 0; i < 40; i++) {
      const f = faultAt(i, roles, { sigkillEvery: 8, diskFullEvery: 8 });
      if (f.kind !== 'actor') continue;
      pairs.add(`${f.role}:${f.fault}`);
      if (f.role === 'smtp') smtpInstances.add(f.instance);
    }
    assert.equal(pairs.size, roles.size * ACTOR_FAULT_KINDS.length);
    assert.deepEqual([...smtpInstances].sort(), [1, 2]);
  });

  test('the whole-daemon faults come at their positions, a disk-full half-way between SIGKILLs', () => {
    const kinds = Array.from({ length: 16 }, (_, i) => faultAt(i, roles, { sigkillEvery: 8, diskFullEvery: 8 }).kind);
    assert.deepEqual(kinds.map((k, i) => (k === 'actor' ? '' : `${i}:${k}`)).filter(Boolean), ['3:disk-full', '7:sigkill', '11:disk-full', '15:sigkill']);
    const none = Array.from({ length: 16 }, (_, i) => faultAt(i, roles, { sigkillEvery: 0, diskFullEvery: 0 }).kind);
    assert.ok(none.every((k) => k === 'actor'));
  });

  test('a fault plan reads sigkill, disk-full and ROLE:INSTANCE:KIND, and names what is wrong', () => {
    const plan = parseFaultPlan('sigkill, disk-full,qmgr:1:hang');
    assert.deepEqual(plan.map(describeFault), ['SIGKILL the daemon', 'fill the queue file system', 'hang in qmgr[1]']);
    assert.throws(() => parseFaultPlan('qmgr:1:explode'), /fault "qmgr:1:explode": expected sigkill, disk-full or ROLE:INSTANCE:throw\|exit\|oom\|hang/);
    assert.throws(() => parseFaultPlan('qmgr:x:exit'), /expected/);
  });
});

describe('soak accounting', () => {
  const tally = (entries: Array<[string, string, number]>): Tally => {
    const t: Tally = new Map();
    for (const [token, rcpt, n] of entries) t.set(token, new Map([...(t.get(token) ?? new Map()), [rcpt, n]]));
    return t;
  };

  test('fates in addresses and tokens decide the outcome', () => {
    assert.equal(recipientFate(recipientAddress('defer', 3, 1)), 'defer');
    assert.equal(recipientFate(recipientAddress('bounce', 3, 1)), 'bounce');
    assert.equal(recipientFate('soak-sender@soak-src.test'), 'ok');
    assert.equal(messageFate('run.7.rj'), 'rj');
    assert.equal(messageFate('run.7.dd'), 'dd');
    assert.equal(messageFate(undefined), 'ok');
    assert.equal(expectedOutcome('ok', 'defer'), 'delivered');
    assert.equal(expectedOutcome('dd', 'ok'), 'delivered');
    assert.equal(expectedOutcome('rj', 'ok'), 'bounced');
    assert.equal(expectedOutcome('ok', 'bounce'), 'bounced');
  });

  test('lost, misrouted, duplicated and unexpected are told apart', () => {
    const accepted: AcceptedMessage[] = [
      { token: 'A', recipients: new Map([['a1', 'delivered'], ['a2', 'bounced']]) },
      { token: 'B', recipients: new Map([['b1', 'delivered']]) },
      { token: 'C', recipients: new Map([['c1', 'delivered']]) },
      { token: 'D', recipients: new Map([['d1', 'bounced']]) },
    ];
    const delivered = tally([['A', 'a1', 1], ['C', 'c1', 2], ['E', 'e1', 1], ['F', 'f1', 1]]);
    const bounced = tally([['A', 'a2', 1], ['D', 'd1', 1]]);
    const a = accountSoak(accepted, delivered, bounced, new Set(['E']), new Set(['F']));
    assert.equal(a.messages, 4);
    assert.equal(a.recipients, 5);
    assert.deepEqual(a.lost, [{ token: 'B', recipient: 'b1' }]);
    assert.deepEqual(a.duplicated, [{ token: 'C', recipient: 'c1', copies: 2 }]);
    assert.equal(a.delivered, 2);
    assert.equal(a.bounced, 2);
    assert.equal(a.messagesComplete, 3);
    assert.equal(a.unexpectedAfterFailure, 1);
    assert.deepEqual(a.unexpectedAfterRefusal, ['F']);
    assert.equal(allAccounted(accepted, delivered, bounced), false);
    const wrong = accountSoak([{ token: 'G', recipients: new Map([['g1', 'delivered']]) }], new Map(), tally([['G', 'g1', 1]]), new Set(), new Set());
    assert.deepEqual(wrong.misrouted, [{ token: 'G', recipient: 'g1', expected: 'delivered' }]);
  });
});
