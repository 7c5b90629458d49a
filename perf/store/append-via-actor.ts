/**
 * append-via-actor: durable append latency through the real journal actor,
 * as the daemon's callers see it: a Supervisor runs the journal actor and a
 * driver actor whose closed-loop submitters call `append` (1, 16 and 256 at
 * once, 1 KiB). Run: node <build>/perf/store/append-via-actor.js
 * Env: STORE_PERF_CASE_MS (3000).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import type { RoleSpec } from '../../src/supervisor/role-registry.js';
import type { MasterService } from '../../src/config/config-types.js';
import type { AppendDriverProtocol } from './append-driver-actor.js';

function unix(name: string): MasterService {
  return { name, type: 'unix', private: true, unpriv: true, chroot: false, wakeup: '-', maxproc: 1, command: name, args: [], overrides: {}, file: 'bench', line: 0 };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'append-via-actor-'));
  const registry: RoleSpec[] = [
    { role: 'journal', entry: new URL('../../src/actors/journal/journal-actor.js', import.meta.url), peers: [], defaultInstances: () => 1, always: true, singleton: true },
    { role: 'append-driver', entry: new URL('./append-driver-actor.js', import.meta.url), peers: ['journal'], defaultInstances: () => 1 },
  ];
  const sup = new Supervisor({
    config: { dir, params: { queue_directory: join(dir, 'queue'), maillog_file: join(dir, 'maillog') }, master: [unix('append-driver')], problems: [] },
    registry,
    controlSocket: false,
  });
  const caseMs = Number(process.env.STORE_PERF_CASE_MS ?? 3000);
  try {
    await sup.start();
    console.log('durable appends through the journal actor, 1 KiB');
    console.log('submitters  appends/s   p50 ms   p99 ms  p99.9 ms   max ms');
    for (const submitters of [1, 16, 256]) {
      const r = (await sup.callActor('append-driver', 'run', { submitters, warmMs: 500, caseMs, size: 1024 }, { timeoutMs: caseMs * 10 + 60_000 })) as AppendDriverProtocol['run']['rep'];
      console.log(`${String(submitters).padStart(10)} ${String(r.appendsPerSecond).padStart(10)} ${r.p50.toFixed(2).padStart(8)} ${r.p99.toFixed(2).padStart(8)} ${r.p999.toFixed(2).padStart(9)} ${r.max.toFixed(2).padStart(8)}`);
    }
  } finally {
    await sup.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
