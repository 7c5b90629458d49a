/**
 * restart-time: milliseconds from an actor's crash (process.exit in the
 * worker) to the role serving again, from a warm spare and cold. Repeats
 * each 10 times and prints min / median / max.
 * Run: node <build>/perf/runtime/restart-time.js
 */
import { once } from 'node:events';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import type { MasterService } from '../../src/config/config-types.js';

const ROUNDS = 10;

async function measure(spare: boolean): Promise<number[]> {
  const dir = mkdtempSync(join(tmpdir(), 'restart-bench-'));
  const service: MasterService = { name: 'bench-echo', type: 'unix', private: true, unpriv: true, chroot: false, wakeup: '-', maxproc: 1, command: 'bench-echo', args: [], overrides: {}, file: 'bench', line: 0 };
  const sup = new Supervisor({
    config: {
      dir,
      params: { queue_directory: join(dir, 'queue'), maillog_file: join(dir, 'maillog'), debug_fault_injection: 'yes', supervisor_restart_limit: '1000' },
      master: [service],
      problems: [],
    },
    registry: [{ role: 'bench-echo', entry: new URL('./bench-echo-actor.js', import.meta.url), peers: [], defaultInstances: () => 1, spare }],
    controlSocket: false,
  });
  const times: number[] = [];
  try {
    await sup.start();
    for (let i = 0; i < ROUNDS; i++) {
      await sup.sparesLoaded();
      const restarted = once(sup, 'restart');
      sup.fault('bench-echo', 1, 'exit');
      const [info] = (await restarted) as [{ ms: number }];
      await sup.callActor('bench-echo', 'echo', { data: new Uint8Array(1) });
      times.push(info.ms);
    }
  } finally {
    await sup.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  return times.sort((a, b) => a - b);
}

async function main(): Promise<void> {
  const rows = [];
  for (const spare of [true, false]) {
    const t = await measure(spare);
    rows.push({ start: spare ? 'warm spare' : 'cold', minMs: t[0], medianMs: t[Math.floor(t.length / 2)], maxMs: t[t.length - 1] });
  }
  console.table(rows);
}

void main();
