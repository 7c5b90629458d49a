import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { cpuListsOverlap, parseCpuList, pinProcess, tasksetPrefix } from '../../perf/harness/cpu-pinning.js';

/** The first CPU this process may run on (a container may not offer CPU 0). */
function firstCpu(): number {
  const m = /^Cpus_allowed_list:\s*(\S+)/m.exec(readFileSync('/proc/self/status', 'utf8'));
  assert.ok(m);
  return parseCpuList(m[1])[0];
}

test('CPU lists: numbers and ranges; a malformed list is one line naming it', () => {
  assert.deepEqual(parseCpuList('0'), [0]);
  assert.deepEqual(parseCpuList('3,0-2,2'), [0, 1, 2, 3]);
  assert.throws(() => parseCpuList('a'), /^Error: bad CPU list: a \(/);
  assert.throws(() => parseCpuList('3-1'), /upwards/);
  assert.throws(() => parseCpuList(''), /bad CPU list/);
  assert.equal(cpuListsOverlap('0', '0,1'), true);
  assert.equal(cpuListsOverlap('0', '1-3'), false);
});

test('tasksetPrefix starts a process on the list; pinProcess pins a running one', async () => {
  const cpu = String(firstCpu());
  const [cmd, ...args] = tasksetPrefix(cpu);
  const started = spawnSync(cmd, [...args, 'cat', '/proc/self/status'], { encoding: 'utf8' });
  assert.equal(started.status, 0, started.stderr);
  assert.match(started.stdout, new RegExp(`^Cpus_allowed_list:\\s*${cpu}$`, 'm'));

  const child = spawn('sleep', ['30'], { stdio: 'ignore' });
  try {
    await new Promise((r) => child.once('spawn', r));
    pinProcess(child.pid as number, cpu);
    assert.match(readFileSync(`/proc/${child.pid}/status`, 'utf8'), new RegExp(`^Cpus_allowed_list:\\s*${cpu}$`, 'm'));
    assert.throws(() => pinProcess(child.pid as number, '4095'), /^Error: cannot pin to CPUs 4095: /);
  } finally {
    child.kill('SIGKILL');
  }
});
