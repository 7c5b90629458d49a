/**
 * Crash test with real processes: a child appends under concurrent load and
 * is killed with SIGKILL at a random moment; recovery in this process must
 * find every message whose append was acknowledged, and none that was
 * acknowledged done. Rounds: STORE_CRASH_ROUNDS (default 50).
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { readContent } from '../../src/store/queue-store.js';
import { contentFor, openStore, tempQueueDir } from './store-fixture.js';

const CHILD = fileURLToPath(new URL('./store-crash-child.js', import.meta.url));
const ROUNDS = Number(process.env.STORE_CRASH_ROUNDS ?? 50);

/** Runs the child, kills it `delayMs` after it is ready, and returns its complete stdout lines. */
function runAndKill(dir: string, salt: number, delayMs: number): Promise<string[]> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CHILD, dir, String(salt)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    let timer: NodeJS.Timeout | undefined;
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (d: string) => {
      out += d;
      if (!timer && out.includes('READY\n')) timer = setTimeout(() => child.kill('SIGKILL'), delayMs);
    });
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    // Not ready in time (a broken journal would crash it): kill it and report.
    const guard = setTimeout(() => child.kill('SIGKILL'), 8000);
    child.on('error', reject);
    child.on('close', (_code, signal) => {
      clearTimeout(guard);
      if (timer) clearTimeout(timer);
      if (signal !== 'SIGKILL' || !out.includes('READY\n')) {
        reject(new Error(`child ended by ${signal ?? 'exit'} before it was killed: ${err.slice(0, 500)}`));
        return;
      }
      const lines = out.split('\n');
      lines.pop(); // a line cut by the kill is not a report
      resolve(lines);
    });
  });
}

test(`every acknowledged append survives SIGKILL (${ROUNDS} rounds)`, { timeout: 120_000 }, async () => {
  const { dir, cleanup } = await tempQueueDir();
  const acked = new Map<string, number>();
  const done = new Set<string>();
  const finishing = new Set<string>();
  let killedWithWork = 0;
  try {
    for (let round = 0; round < ROUNDS; round++) {
      const lines = await runAndKill(dir, round % 64, Math.floor(Math.random() * 120));
      let appended = 0;
      for (const line of lines) {
        const [tag, id, size] = line.split(' ');
        if (tag === 'A') {
          acked.set(id, Number(size));
          appended++;
        } else if (tag === 'O') {
          finishing.add(id);
        } else if (tag === 'D') {
          done.add(id);
        }
      }
      if (appended > 0) killedWithWork++;
      const store = await openStore(dir, { segmentBytes: 256 * 1024 });
      try {
        for (const [id, size] of acked) {
          if (done.has(id)) {
            assert.equal(store.get(id), undefined, `round ${round}: ${id} was acknowledged done but came back`);
            continue;
          }
          const q = store.get(id);
          if (!q && finishing.has(id)) continue;
          assert.ok(q, `round ${round}: acknowledged ${id} lost (recovery ${JSON.stringify(store.recovery)})`);
          assert.equal(q.size, size);
        }
        assert.equal(store.recovery.corrupt, 0, `round ${round}: a crash must leave torn tails, not corrupt records`);
        // Spot-check contents, then retire this round's messages so the journal stays small.
        let checked = 0;
        for (const q of store.live()) {
          if (checked++ >= 40) break;
          assert.deepEqual(await readContent(dir, q.location), contentFor(q.queueId, q.size));
        }
        if (round % 5 === 4) {
          for (const q of [...store.live()]) {
            await store.markDone(q.queueId);
            done.add(q.queueId);
          }
          await store.compact();
        }
      } finally {
        await store.close();
      }
    }
    assert.ok(killedWithWork >= ROUNDS / 2, `only ${killedWithWork} rounds had acknowledged appends before the kill`);
  } finally {
    await cleanup();
  }
});
