/**
 * roundtrip bench: request/reply round trips per second between two actors
 * (a driver and an echo, each a worker thread under a real Supervisor), at
 * 200 bytes and 64 KiB, one call at a time and 64 in flight (batched posts).
 * With 64 in flight the figure counts every reply, not every batch.
 * Run: node <build>/perf/runtime/roundtrip.bench.js   (BENCH_TIME_MS, default 2000)
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import type { RoleSpec } from '../../src/supervisor/role-registry.js';
import type { MasterService } from '../../src/config/config-types.js';

function unix(name: string): MasterService {
  return { name, type: 'unix', private: true, unpriv: true, chroot: false, wakeup: '-', maxproc: 1, command: name, args: [], overrides: {}, file: 'bench', line: 0 };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'roundtrip-bench-'));
  const registry: RoleSpec[] = [
    { role: 'bench-echo', entry: new URL('./bench-echo-actor.js', import.meta.url), peers: [], defaultInstances: () => 1 },
    { role: 'bench-driver', entry: new URL('./bench-driver-actor.js', import.meta.url), peers: ['bench-echo'], defaultInstances: () => 1 },
  ];
  const sup = new Supervisor({
    config: { dir, params: { queue_directory: join(dir, 'queue'), maillog_file: join(dir, 'maillog') }, master: [unix('bench-echo'), unix('bench-driver')], problems: [] },
    registry,
    controlSocket: false,
  });
  try {
    await sup.start();
    const timeMs = Number(process.env.BENCH_TIME_MS ?? 2000);
    const { rows } = (await sup.callActor('bench-driver', 'run', { timeMs }, { timeoutMs: timeMs * 20 + 60_000 })) as {
      rows: Array<Record<string, string | number>>;
    };
    console.table(rows);
  } finally {
    await sup.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
