/** Embedding: startMailSystem serves on a configuration directory, reports its status, refuses a broken reload, and stops with exit status 0. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { configDir } from './cli-harness.js';
import { freePort } from '../helpers/daemon.js';

const API = fileURLToPath(new URL('../../src/cli/api.js', import.meta.url));

test('startMailSystem serves, reports ready, refuses a broken reload and stops', async () => {
  const port = await freePort();
  const c = configDir('', `127.0.0.1:${port} inet n - n - 1 smtpd\n`);
  try {
    // In a child process, as a program embedding Postrider would run it.
    const script = `
      import { connect } from 'node:net';
      import { appendFileSync } from 'node:fs';
      const { startMailSystem } = await import(${JSON.stringify(API)});
      const mta = await startMailSystem(${JSON.stringify(c.dir)});
      const st = await mta.status();
      const banner = await new Promise((resolve, reject) => {
        const s = connect(${port}, '127.0.0.1');
        s.on('error', reject);
        s.once('data', (d) => { s.end('QUIT\\r\\n'); resolve(String(d).split('\\r\\n')[0]); });
      });
      appendFileSync(${JSON.stringify(c.dir + '/main.cf')}, 'message_size_limit = lots\\n');
      const reload = await mta.reload().then(() => 'reloaded', (e) => e.message);
      await mta.stop();
      console.log(JSON.stringify({ ready: st.ready, banner, reload, code: await mta.done }));
    `;
    const out = await new Promise<string>((resolve, reject) => {
      // A file, not --eval: the worker threads inherit the process's execArgv, and --input-type would stop them.
      const file = join(c.dir, 'embed.mjs');
      writeFileSync(file, script);
      const child = spawn(process.execPath, [file], { stdio: ['ignore', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => (stdout += d));
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      child.on('error', reject);
      child.on('close', (code) => (code === 0 ? resolve(stdout) : reject(new Error(`exit ${code}: ${stderr}\n${readFileSync(c.log, 'utf8')}`))));
    });
    const r = JSON.parse(out.trim().split('\n').pop()!) as { ready: boolean; banner: string; reload: string; code: number };
    assert.equal(r.ready, true);
    assert.match(r.banner, /^220 /);
    assert.match(r.reload, /^the configuration has errors; not reloaded: .*message_size_limit/);
    assert.equal(r.code, 0);
  } finally {
    c.cleanup();
  }
});
