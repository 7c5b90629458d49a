/**
 * planSlots and queue shards: the journal and qmgr run one instance per
 * shard whatever maxproc says, queue_shard_count sets the count (`-`: one
 * per four cores), and the supervisor may ask for more (shards on disk).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { planSlots, type SupervisorConfig } from '../../src/supervisor/role-registry.js';
import { defaultRegistry } from '../../src/supervisor/roles.js';
import { queueShardCount } from '../../src/config/queue-shard-count.js';
import { MAX_SHARDS } from '../../src/store/store-segment.js';
import type { MasterService } from '../../src/config/config-types.js';

function unix(name: string, command: string, maxproc: number | null): MasterService {
  return { name, type: 'unix', private: true, unpriv: true, chroot: false, wakeup: '-', maxproc, command, args: [], overrides: {}, file: 'master.cf', line: 1 };
}

function config(params: Record<string, string>): SupervisorConfig {
  return { dir: '/etc/postrider', params, master: [unix('qmgr', 'qmgr', 1), unix('smtp', 'smtp', 2)], problems: [] };
}

const count = (plan: ReturnType<typeof planSlots>, role: string): number => plan.slots.filter((s) => s.role === role).length;

test('journal and qmgr run one instance per queue shard, whatever maxproc says', () => {
  const plan = planSlots(config({ queue_shard_count: '3' }), defaultRegistry(), 2);
  assert.equal(count(plan, 'journal'), 3);
  assert.equal(count(plan, 'qmgr'), 3);
  assert.equal(count(plan, 'smtp'), 2);
  assert.equal(count(planSlots(config({ queue_shard_count: '3' }), defaultRegistry(), 2, { shards: 5 }), 'qmgr'), 5, 'shards found on disk add instances');
});

test('queue_shard_count: - is one shard per four cores, one at least; a bad value is refused with its name', () => {
  assert.equal(queueShardCount('-', 1), 1);
  assert.equal(queueShardCount('-', 2), 1);
  assert.equal(queueShardCount('-', 8), 2);
  assert.equal(queueShardCount('-', 16), 4);
  assert.equal(queueShardCount('7', 2), 7);
  for (const bad of ['0', 'two', '-1', String(MAX_SHARDS + 1)]) assert.throws(() => queueShardCount(bad, 2), /^Error: queue_shard_count = .*: expected - or a number of shards from 1 to 256$/);
  assert.equal(count(planSlots(config({}), defaultRegistry(), 16), 'journal'), 4);
});
