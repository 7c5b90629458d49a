/**
 * metrics-install: the Prometheus listener follows reload with the real
 * daemon: a changed metrics_listen closes the old address and opens the new
 * one, an address another program holds refuses the reload with the
 * running listener kept, and an empty value turns it off.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { freePort, startDaemon, type RunningDaemon } from '../helpers/daemon.js';

/** The status of GET /metrics, or the connection error's code. */
function scrape(port: number): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end();
  });
}

function setMetricsListen(d: RunningDaemon, value: string): void {
  const path = join(d.configDir, 'main.cf');
  writeFileSync(path, readFileSync(path, 'utf8').replace(/^metrics_listen = .*$/m, `metrics_listen = ${value}`));
}

test('metrics_listen follows reload: moved, refused when taken (old kept), turned off', async () => {
  const first = await freePort();
  const d = await startDaemon({ params: { metrics_listen: `127.0.0.1:${first}` } });
  try {
    assert.equal(await scrape(first), 200);

    const second = await freePort();
    setMetricsListen(d, `127.0.0.1:${second}`);
    const moved = await d.cli(['reload']);
    assert.equal(moved.code, 0, moved.stderr);
    assert.equal(await scrape(second), 200);
    assert.equal(await scrape(first), 'ECONNREFUSED', 'the old address was closed');

    const busy = createServer();
    const taken = await freePort();
    await new Promise<void>((r) => busy.listen(taken, '127.0.0.1', r));
    try {
      setMetricsListen(d, `127.0.0.1:${taken}`);
      const refused = await d.cli(['reload']);
      assert.equal(refused.code, 1);
      assert.equal(refused.stderr.trim().split('\n').length, 1, refused.stderr);
      assert.match(refused.stderr, new RegExp(`metrics_listen: cannot listen on 127\\.0\\.0\\.1:${taken}`));
      assert.equal(await scrape(second), 200, 'the running listener was kept');
    } finally {
      await new Promise((r) => busy.close(r));
    }

    setMetricsListen(d, '');
    const off = await d.cli(['reload']);
    assert.equal(off.code, 0, off.stderr);
    assert.equal(await scrape(second), 'ECONNREFUSED');
    assert.equal((await d.cli(['status'])).code, 0);
  } finally {
    await d.stop();
  }
});
