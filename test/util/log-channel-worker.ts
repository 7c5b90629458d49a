/**
 * A worker thread for log-channel.test: logs through the project's Logger
 * with publishing as workerData.share says, then, when told, turns it off
 * (or on) and logs again, answering "logged" after each step.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { Logger, configureLogging } from '../../src/util/log.js';
import { shareLogLines } from '../../src/util/log-channel.js';

const { share, name } = workerData as { share: boolean; name: string };
// The lines go nowhere else: the test reads only what the channel carries.
configureLogging({ sink: { write: () => undefined, flush: () => undefined, reopen: () => undefined } });
const log = new Logger(name, 7);
shareLogLines(share);
log.info('first line');
log.queue('ABC123', 'from=<a@b.test>, size=10, nrcpt=1 (queue active)');
setImmediate(() => parentPort!.postMessage('logged'));
parentPort!.on('message', (m: { share: boolean; text: string }) => {
  shareLogLines(m.share);
  log.info(m.text);
  setImmediate(() => parentPort!.postMessage('logged'));
});
