/**
 * What a role's thread loads before it serves: the roles that run at idle
 * with the shipped configuration (smtpd, qmgr, trivial-rewrite, journal)
 * load neither mailauth (DKIM/SPF/DMARC/ARC, loaded on first use), piscina
 * (cleanup's pools, loaded with the first pool), re2js (loaded with the
 * first regexp: or pcre: table), dns-packet (loaded with the first DNS
 * question smtpd asks of the name servers itself), node:http
 * (smtp-server's logger import is answered without nodemailer's fetch)
 * nor prom-client; an smtp thread loads mailauth only with its first
 * MTA-STS policy lookup. Each entry file runs in a real worker thread as a warm
 * spare would, with a module hook there recording every module it loads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { roleSpec } from '../../src/supervisor/roles.js';
import type { RoleName } from '../../src/protocol/role-catalogue.js';

interface Loaded {
  urls: string[];
  builtins: string[];
}

/** Loads the role's entry file in a worker as a spare and reports what it loaded. */
async function loadedBy(role: RoleName): Promise<Loaded> {
  const entry = roleSpec(role)!.entry.href;
  const code = `
    const { registerHooks } = require('node:module');
    const { parentPort } = require('node:worker_threads');
    const urls = [];
    registerHooks({ load(url, context, nextLoad) { urls.push(url); return nextLoad(url, context); } });
    import(${JSON.stringify(entry)}).then(() => {
      parentPort.postMessage({ report: { urls, builtins: process.moduleLoadList.filter((m) => m.startsWith('NativeModule ')) } });
    });`;
  const worker = new Worker(code, { eval: true, workerData: { spare: true, role } });
  try {
    return await new Promise<Loaded>((resolve, reject) => {
      worker.on('message', (msg: { report?: Loaded }) => msg?.report && resolve(msg.report));
      worker.on('error', reject);
      worker.on('exit', (code) => reject(new Error(`${role}: worker exited with ${code}`)));
    });
  } finally {
    await worker.terminate();
  }
}

for (const role of ['smtpd', 'qmgr', 'trivial-rewrite', 'journal'] as const) {
  test(`${role}: its thread loads no mailauth, piscina, re2js, dns-packet, node:http or prom-client until asked`, async () => {
    const { urls, builtins } = await loadedBy(role);
    assert.ok(urls.some((u) => u.endsWith(`/${role}-actor.js`)), `${role}: the hook saw its entry load`);
    assert.deepEqual(urls.filter((u) => /\/node_modules\/(mailauth|prom-client|piscina|re2js|dns-packet)\//.test(u)), [], role);
    assert.ok(!builtins.includes('NativeModule http'), `${role}: node:http loaded`);
    assert.ok(!builtins.includes('NativeModule https'), `${role}: node:https loaded`);
  });
}

test('smtp: its thread loads no mailauth (MTA-STS loads it with the first policy lookup), joi, tldts, libmime or dns-packet (with the first DANE question)', async () => {
  const { urls } = await loadedBy('smtp');
  assert.ok(urls.some((u) => u.endsWith('/smtp-actor.js')), 'the hook saw its entry load');
  assert.ok(urls.some((u) => u.includes('/node_modules/nodemailer/')), 'nodemailer loaded');
  assert.deepEqual(urls.filter((u) => /\/node_modules\/(mailauth|joi|tldts|libmime|dns-packet|piscina|prom-client)\//.test(u)), []);
});

test('smtpd: smtp-server is loaded, with the quiet logger in place of nodemailer\'s shared module', async () => {
  const { urls } = await loadedBy('smtpd');
  assert.ok(urls.some((u) => u.includes('/node_modules/smtp-server/')), 'smtp-server loaded');
  assert.ok(urls.some((u) => u.endsWith('/smtpd-quiet-logger.js')));
  assert.deepEqual(urls.filter((u) => /\/nodemailer\/dist\/(esm|cjs)\/(shared|fetch)\//.test(u)), []);
});
