/**
 * The Prometheus endpoint's code (node:http, prom-client) is loaded only
 * when metrics_listen asks for it: the daemon's main-thread modules, as
 * `postrider start-fg` imports them, load neither. (That a set
 * metrics_listen still serves, and follows reload, is metrics-install's
 * test.)
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';

test('the daemon\'s main-thread code loads neither node:http nor prom-client without metrics_listen', () => {
  const startFg = new URL('../../src/cli/cli-start-fg.js', import.meta.url).href;
  const script = `
    import { createRequire } from 'node:module';
    await import(${JSON.stringify(startFg)});
    const cache = Object.keys(createRequire(import.meta.url).cache);
    console.log(JSON.stringify({
      http: process.moduleLoadList.includes('NativeModule http'),
      promClient: cache.some((k) => k.includes('/node_modules/prom-client/')),
      startFg: typeof (await import(${JSON.stringify(startFg)})).startForeground,
    }));`;
  const out = JSON.parse(execFileSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })) as Record<string, unknown>;
  assert.deepEqual(out, { http: false, promClient: false, startFg: 'function' });
});
