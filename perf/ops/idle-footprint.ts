/**
 * idle-footprint: what Postrider costs doing nothing, with the shipped
 * configuration (etc/). Copies etc/ to a temporary directory, points
 * queue_directory there and moves the inet services to free loopback ports
 * (so a running instance does not collide), starts `postrider start-fg`,
 * waits until `status` says ready, lets it settle (IDLE_SETTLE_MS, default
 * 5 s), then prints the daemon's PSS and RSS (/proc/PID/smaps_rollup), its
 * OS thread count (/proc/PID/status) and the number of actor instances
 * `status --json` lists. Linux only; exits 1 when the daemon does not come
 * up. IDLE_CONFIG_DIR measures another configuration directory instead;
 * IDLE_NODE_ARGS passes options to node (V8 heap flags, say).
 */
import { spawn } from 'node:child_process';
import { cpSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { CLI, freePort, runCli } from '../../test/helpers/daemon.js';

const SETTLE_MS = Number(process.env.IDLE_SETTLE_MS ?? 5000);

/** Fields of /proc/PID/smaps_rollup in KiB. */
function rollup(pid: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const line of readFileSync(`/proc/${pid}/smaps_rollup`, 'utf8').split('\n')) {
    const m = /^(\w+):\s+(\d+) kB/.exec(line);
    if (m) out[m[1]] = Number(m[2]);
  }
  return out;
}

function threads(pid: number): number {
  const m = /^Threads:\s+(\d+)/m.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) : 0;
}

async function main(): Promise<number> {
  const source = resolve(process.env.IDLE_CONFIG_DIR ?? 'etc');
  const dir = mkdtempSync(join(tmpdir(), 'postrider-idle-'));
  const conf = join(dir, 'etc');
  cpSync(source, conf, { recursive: true });
  const main = readFileSync(join(conf, 'main.cf'), 'utf8').replace(/^queue_directory\s*=.*$/m, '');
  writeFileSync(join(conf, 'main.cf'), `${main}\nqueue_directory = ${join(dir, 'spool')}\n`);
  let master = readFileSync(join(conf, 'master.cf'), 'utf8');
  for (const m of [...master.matchAll(/^(\S*?)(\d+)(\s+inet\s)/gm)]) {
    master = master.replace(m[0], `${m[1]}${await freePort()}${m[3]}`);
  }
  writeFileSync(join(conf, 'master.cf'), master);
  const nodeArgs = (process.env.IDLE_NODE_ARGS ?? '').split(' ').filter(Boolean);
  const child = spawn(process.execPath, [...nodeArgs, CLI, '-c', conf, 'start-fg'], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  child.stderr.on('data', (b: Buffer) => (err += b.toString()));
  try {
    let status: { ready?: boolean; actors?: unknown[] } | undefined;
    const deadline = Date.now() + 60_000;
    while (Date.now() < deadline && child.exitCode === null) {
      const r = await runCli(conf, ['status', '--json']);
      if (r.code === 0) {
        try {
          status = JSON.parse(r.stdout);
        } catch {
          status = undefined;
        }
        if (status?.ready) break;
      }
      await new Promise((r2) => setTimeout(r2, 200));
    }
    if (!status?.ready) {
      process.stderr.write(`idle-footprint: daemon did not come up${err.trim() ? `: ${err.trim().split('\n').pop()}` : ''}\n`);
      return 1;
    }
    await new Promise((r) => setTimeout(r, SETTLE_MS));
    const pid = child.pid!;
    const mem = rollup(pid);
    const r = await runCli(conf, ['status', '--json']);
    const listed = (JSON.parse(r.stdout) as { actors?: Array<{ role?: string; instance?: number; state?: string }> }).actors ?? [];
    const actors = listed.length;
    // Agents that wait on demand are listed with no thread.
    const running = listed.filter((a) => a.state !== 'on-demand').length;
    const mib = (kib: number | undefined): string => ((kib ?? 0) / 1024).toFixed(1);
    process.stdout.write(`configuration ${source}\n`);
    process.stdout.write(`running ${listed.filter((a) => a.state !== 'on-demand').map((a) => `${a.role}:${a.instance}`).join(' ')}\n`);
    process.stdout.write(`pss_mib ${mib(mem.Pss)}\nrss_mib ${mib(mem.Rss)}\nanon_mib ${mib(mem.Anonymous)}\nthreads ${threads(pid)}\nactors ${actors}\nrunning_actors ${running}\n`);
    return 0;
  } finally {
    child.kill('SIGTERM');
    await new Promise((r) => (child.exitCode !== null ? r(null) : child.on('exit', r)));
    rmSync(dir, { recursive: true, force: true });
  }
}

process.exitCode = await main();
