/**
 * cli-check: `postrider check`: prints every configuration problem
 * (formatProblem) and every queue directory problem (checkQueueDirectory:
 * created when missing, as postfix check does; ownership, modes, journal
 * segments, corrupt records, a stale pid file) and the HTTP API's settings
 * (readApiConfig) on standard error. Exit 1 on
 * any error; warnings alone exit 0.
 */
import { checkConfig, formatProblem } from '../config/check-config.js';
import { MainConfig } from '../config/main-config.js';
import { checkQueueDirectory, formatQueueProblem } from '../admin/check-queue.js';
import { HttpApiConfigError, readApiConfig } from '../admin/http-api/api-config.js';
import { load } from './cli-config-dir.js';

/** Returns the exit status. */
export function check(dir: string): number {
  const loaded = load(dir);
  const problems = checkConfig(loaded);
  for (const p of problems) process.stderr.write(formatProblem(p) + '\n');
  let errors = problems.filter((p) => p.severity === 'error').length;
  const main = new MainConfig(loaded.params, loaded.dir);
  // The HTTP API's address, tokens and TLS files, as start reads them.
  try {
    readApiConfig(main);
  } catch (err) {
    if (!(err instanceof HttpApiConfigError)) throw err;
    process.stderr.write(`postrider: error: ${err.message}\n`);
    errors++;
  }
  const queueDir = main.path('queue_directory');
  if (!queueDir) {
    process.stderr.write('postrider: error: queue_directory is not set\n');
    errors++;
  } else {
    for (const p of checkQueueDirectory(queueDir)) {
      process.stderr.write(formatQueueProblem(p) + '\n');
      if (p.severity === 'error') errors++;
    }
  }
  return errors > 0 ? 1 : 0;
}
