/**
 * log-channel: worker threads that share their log lines publish them on
 * the log channel, a batch per event-loop turn, and the main thread's
 * reader gets them with its own thread's lines (once each); a thread that
 * does not share publishes nothing, and sharing follows each call (as a
 * reload turns the HTTP API on or off). Real worker threads, the real
 * Logger.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { Worker } from 'node:worker_threads';
import { Logger, configureLogging, flushLog } from '../../src/util/log.js';
import { followLogLines, shareLogLines } from '../../src/util/log-channel.js';
import { waitFor } from '../helpers/send-mail.js';

const WORKER = new URL('./log-channel-worker.js', import.meta.url);

function start(share: boolean, name: string): { worker: Worker; logged: () => Promise<void> } {
  const worker = new Worker(WORKER, { workerData: { share, name } });
  const waiting: Array<() => void> = [];
  worker.on('message', () => waiting.shift()?.());
  worker.on('error', (err) => assert.fail(err));
  return { worker, logged: () => new Promise<void>((resolve) => waiting.push(resolve)) };
}

test('lines of sharing worker threads and of the main thread reach the reader; a thread that does not share sends none', async () => {
  configureLogging({ sink: { write: () => undefined, flush: () => undefined, reopen: () => undefined } });
  const got: string[] = [];
  const batches: number[] = [];
  const stop = followLogLines((lines) => {
    const each = lines.split('\n');
    batches.push(each.length);
    got.push(...each);
  });
  const sharing = start(true, 'sharer');
  const silent = start(false, 'silent');
  try {
    await Promise.all([sharing.logged(), silent.logged()]);
    await waitFor(() => got.some((l) => / postrider\/sharer\[7\]: ABC123: from=<a@b\.test>, size=10, nrcpt=1/.test(l)), 10_000, 'the sharing thread\'s lines');
    assert.ok(got.some((l) => /^[A-Z][a-z]{2} [ \d]\d \d\d:\d\d:\d\d \S+ postrider\/sharer\[7\]: first line$/.test(l)), got.join('\n'));
    assert.ok(batches.includes(2), 'the two lines of one turn go as one message');

    // The main thread's own lines are read where they are made; asking it to publish as well adds no copy.
    shareLogLines(true);
    new Logger('master', process.pid).info('main thread line');
    flushLog();
    await waitFor(() => got.some((l) => l.endsWith('main thread line')), 10_000, 'the main thread\'s line');

    // Off, then on again: the line logged while off is never sent (one sender's messages arrive in order).
    sharing.worker.postMessage({ share: false, text: 'while off' });
    await sharing.logged();
    sharing.worker.postMessage({ share: true, text: 'on again' });
    await sharing.logged();
    // The silent thread turns sharing on only now: its earlier lines were never sent.
    silent.worker.postMessage({ share: true, text: 'silent now shares' });
    await silent.logged();
    await waitFor(() => got.some((l) => l.endsWith('sharer[7]: on again')) && got.some((l) => l.endsWith('silent[7]: silent now shares')), 10_000, 'lines after sharing is on again');
    await new Promise((r) => setTimeout(r, 50));
    assert.equal(got.filter((l) => l.endsWith('main thread line')).length, 1, 'the main thread\'s line once');
    assert.ok(!got.some((l) => l.endsWith('while off')), 'nothing is sent while sharing is off');
    assert.ok(!got.some((l) => l.includes('postrider/silent[7]: first line')), 'a thread that did not share sent nothing');
  } finally {
    stop();
    await sharing.worker.terminate();
    await silent.worker.terminate();
  }
});
