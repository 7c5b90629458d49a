/**
 * Roles off the path of every message (the catalogue's rarelyBusy: bounce,
 * pickup, discard, error), and trivial-rewrite, whose answers its callers
 * cache, run their threads with a small young generation, so an idle
 * isolate stays small; the roles that work on every message keep V8's
 * default. Checked on real worker threads the supervisor spawns.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import type { Worker } from 'node:worker_threads';
import { roleSpec, RARELY_BUSY_YOUNG_GENERATION_MB } from '../../src/supervisor/roles.js';
import { spawnWorker } from '../../src/supervisor/supervisor-worker.js';
import { Logger } from '../../src/util/log.js';
import type { RoleName } from '../../src/protocol/role-catalogue.js';

async function limitsOf(role: RoleName): Promise<Worker['resourceLimits']> {
  const spec = roleSpec(role)!;
  let loaded!: () => void;
  const done = new Promise<void>((r) => (loaded = r));
  const inc = spawnWorker(spec, 1, { spare: true, role }, { message: (_i, msg) => msg?.ctl === 'loaded' && loaded(), exit: () => undefined }, new Logger('test', 0));
  try {
    await done;
    return inc.worker.resourceLimits;
  } finally {
    await inc.worker.terminate();
  }
}

test('a rarely busy role gets the small young generation, a role on every message the default', async () => {
  for (const role of ['bounce', 'error', 'trivial-rewrite'] as const) {
    assert.equal((await limitsOf(role))?.maxYoungGenerationSizeMb, RARELY_BUSY_YOUNG_GENERATION_MB, role);
  }
  for (const role of ['smtpd', 'qmgr'] as const) {
    const young = (await limitsOf(role))?.maxYoungGenerationSizeMb ?? 0;
    assert.ok(young > RARELY_BUSY_YOUNG_GENERATION_MB, `${role}: ${young}`);
  }
});
