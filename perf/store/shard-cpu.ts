/**
 * shard-cpu: CPU time per message of each queue shard's journal and qmgr
 * thread (worker.cpuUsage(), the thread's own CPU time), with the real
 * journal, qmgr, trivial-rewrite, bounce and discard actors under one
 * Supervisor. 1 KiB messages are appended to the shards in turn through the
 * supervisor's channels (smtpd and cleanup are left out: they are measured
 * elsewhere), qmgr delivers each to discard and records it done. The report:
 * per shard thread, CPU-ms per message it handled, and the one-thread cap
 * that implies (1000 / CPU-ms per message).
 * Run: node <build>/perf/store/shard-cpu.js
 * Env: SHARDS (3), MESSAGES (30000), CONCURRENCY (256).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { Supervisor } from '../../src/supervisor/supervisor.js';
import { defaultRegistry } from '../../src/supervisor/roles.js';
import type { MasterService } from '../../src/config/config-types.js';
import { QueueIdGenerator } from '../../src/store/store-queue-id.js';
import type { NewMessage } from '../../src/store/store-types.js';

const SHARDS = Number(process.env.SHARDS ?? 3);
const MESSAGES = Number(process.env.MESSAGES ?? 30_000);
const CONCURRENCY = Number(process.env.CONCURRENCY ?? 256);

function unix(name: string, command: string, maxproc: number | null): MasterService {
  return { name, type: 'unix', private: true, unpriv: true, chroot: false, wakeup: '-', maxproc, command, args: [], overrides: {}, file: 'bench', line: 0 };
}

const content = Buffer.from(`Subject: bench\r\n\r\n${'x'.repeat(1000)}\r\n`);
function message(queueId: string, k: number): NewMessage {
  return {
    queueId,
    arrivalTime: Date.now(),
    sender: 'sender@client.test',
    recipients: [{ address: `rcpt${k % 50}@remote.test` }],
    client: { name: 'localhost', addr: '127.0.0.1', protocol: 'ESMTP' },
    headerLength: 18,
    content,
  };
}

interface SlotView { role: string; instance: number; current?: { worker: Worker } }

async function threadCpu(sup: Supervisor): Promise<Map<string, number>> {
  const slots = (sup as unknown as { slots: SlotView[] }).slots.filter((s) => s.role === 'journal' || s.role === 'qmgr');
  const out = new Map<string, number>();
  for (const s of slots) {
    const u = await s.current!.worker.cpuUsage();
    out.set(`${s.role}[${s.instance}]`, (u.user + u.system) / 1000);
  }
  return out;
}

async function total(sup: Supervisor): Promise<number> {
  let n = 0;
  for (let i = 1; i <= SHARDS; i++) n += (await sup.callActor('journal', 'counts', {}, { instance: i })).total;
  return n;
}

async function run(sup: Supervisor, ids: QueueIdGenerator, count: number): Promise<number[]> {
  const perShard = new Array<number>(SHARDS).fill(0);
  let k = 0;
  const submitter = async (): Promise<void> => {
    while (k < count) {
      const i = k++;
      const shard = i % SHARDS;
      perShard[shard]++;
      await sup.callActor('journal', 'append', { message: message(ids.next(), i) }, { instance: shard + 1, timeoutMs: 60_000 });
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, submitter));
  while ((await total(sup)) > 0) await new Promise((r) => setTimeout(r, 100));
  return perShard;
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'shard-cpu-'));
  const sup = new Supervisor({
    config: {
      dir,
      params: {
        queue_directory: join(dir, 'queue'), maillog_file: join(dir, 'maillog'), queue_shard_count: String(SHARDS),
        default_transport: 'discard', myhostname: 'mx.bench.test', mydomain: 'bench.test',
      },
      master: [unix('qmgr', 'qmgr', 1), unix('rewrite', 'trivial-rewrite', 1), unix('bounce', 'bounce', 1), unix('discard', 'discard', 1)],
      problems: [],
    },
    registry: defaultRegistry(),
    controlSocket: false,
  });
  const ids = new QueueIdGenerator(3000);
  try {
    await sup.start();
    await run(sup, ids, 3000); // warm-up: code compiled, caches filled
    const before = await threadCpu(sup);
    const t0 = performance.now();
    const perShard = await run(sup, ids, MESSAGES);
    const seconds = (performance.now() - t0) / 1000;
    const after = await threadCpu(sup);
    console.log(`${MESSAGES} messages of 1 KiB over ${SHARDS} shard(s), ${CONCURRENCY} appends at once: ${Math.round(MESSAGES / seconds)} msg/s end to end (to discard)`);
    console.log('thread        messages  CPU-ms/msg  one-thread cap msg/s');
    for (const [name, ms] of after) {
      const shard = Number(/\[(\d+)\]/.exec(name)![1]) - 1;
      const per = (ms - (before.get(name) ?? 0)) / perShard[shard];
      console.log(`${name.padEnd(12)} ${String(perShard[shard]).padStart(9)} ${per.toFixed(3).padStart(11)} ${String(Math.round(1000 / per)).padStart(21)}`);
    }
  } finally {
    await sup.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

void main();
