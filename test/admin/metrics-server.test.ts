/**
 * metrics-server: a scrape endpoint in a process that runs out of file
 * descriptors (ulimit -n 64, more connections than that) loses those
 * connections but not the process, and answers again once they close.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { connect, type Socket } from 'node:net';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/daemon.js';

const SERVER = fileURLToPath(new URL('../../src/admin/metrics-server.js', import.meta.url));

function get(port: number): Promise<number | string> {
  return new Promise((resolve) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics', agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res.statusCode ?? 0));
    });
    req.on('error', (err: NodeJS.ErrnoException) => resolve(err.code ?? err.message));
    req.end();
  });
}

test('out of descriptors, the metrics listener drops connections and the process lives on', async () => {
  const port = await freePort();
  const script = `import(${JSON.stringify(SERVER)}).then(async ({ MetricsServer }) => {
    const source = { status: async () => ({ actors: [] }), callActor: async () => ({}) };
    await new MetricsServer({ host: '127.0.0.1', port: ${port} }, source).listen();
    console.log('up');
  })`;
  const child = spawn('sh', ['-c', 'ulimit -n 64 && exec "$0" "$@"', process.execPath, '-e', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.setEncoding('utf8').on('data', (d: string) => (stderr += d));
  const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
  try {
    await new Promise((resolve) => child.stdout!.once('data', resolve));
    const sockets: Socket[] = [];
    for (let i = 0; i < 120; i++) {
      const s = connect(port, '127.0.0.1');
      s.on('error', () => undefined);
      sockets.push(s);
    }
    await new Promise((r) => setTimeout(r, 1000));
    for (const s of sockets) s.destroy();
    await new Promise((r) => setTimeout(r, 500));
    assert.equal(child.exitCode, null, `the process died: ${stderr}`);
    assert.equal(await get(port), 200);
  } finally {
    child.kill('SIGKILL');
    await exited;
  }
});
