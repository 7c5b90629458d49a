/**
 * smtpd-quiet-logger: its getLogger answers as nodemailer's does (the
 * do-nothing logger without a logger option, nodemailer's own wrapper with
 * one), and the hook hands it to smtp-server in a thread, where an
 * SMTPServer still serves.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { getLogger } from '../../../src/actors/smtpd/smtpd-quiet-logger.js';

const LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal'];
const nodemailerShared = createRequire(import.meta.resolve('smtp-server'))('nodemailer/lib/shared') as { getLogger: typeof getLogger };

test('without a logger: the six levels, each doing nothing and returning false, as nodemailer answers', () => {
  for (const options of [undefined, {}, { logger: false }]) {
    const ours = getLogger(options, { component: 'smtp-server' });
    const theirs = nodemailerShared.getLogger(options, { component: 'smtp-server' });
    assert.deepEqual(Object.keys(ours).sort(), Object.keys(theirs).sort());
    assert.deepEqual(Object.keys(ours).sort(), [...LEVELS].sort());
    for (const level of LEVELS) assert.equal(ours[level as keyof typeof ours]('x'), theirs[level as keyof typeof theirs]('x'));
  }
});

test('with a logger: nodemailer\'s own wrapper, which calls it', () => {
  const seen: string[] = [];
  const logger = Object.fromEntries(LEVELS.map((l) => [l, (...args: unknown[]) => seen.push(`${l}:${args.map(String).join(' ')}`)]));
  getLogger({ logger }, { component: 'smtp-server' }).info({ tnx: 'x' }, 'hello %s', 'there');
  assert.equal(seen.length, 1);
  assert.match(seen[0], /^info:/);
  assert.match(seen[0], /hello/);
});

test('in a thread with the hook, smtp-server takes the quiet logger and still answers SMTP', async () => {
  const hook = new URL('../../../src/actors/smtpd/smtpd-quiet-logger.js', import.meta.url).href;
  const code = `
    const { parentPort } = require('node:worker_threads');
    const net = require('node:net');
    (async () => {
      (await import(${JSON.stringify(hook)})).quietSmtpServerLogger();
      const { SMTPServer } = await import('smtp-server');
      const server = new SMTPServer({ logger: false, authOptional: true, banner: 'quiet' });
      await new Promise((r) => server.listen(0, '127.0.0.1', r));
      const greeting = await new Promise((resolve) => {
        const s = net.connect(server.server.address().port, '127.0.0.1');
        s.once('data', (b) => { resolve(b.toString()); s.destroy(); });
      });
      server.close(() => parentPort.postMessage({ greeting, http: process.moduleLoadList.includes('NativeModule http') }));
    })();`;
  const worker = new Worker(code, { eval: true });
  try {
    const r = await new Promise<{ greeting: string; http: boolean }>((resolve, reject) => {
      worker.on('message', resolve);
      worker.on('error', reject);
    });
    assert.match(r.greeting, /^220 /);
    assert.equal(r.http, false, 'node:http stayed out of the thread');
  } finally {
    await worker.terminate();
  }
});
