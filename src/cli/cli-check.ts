/**
 * cli-check: `postrider check`: prints every configuration problem
 * (formatProblem) and every queue directory problem (checkQueueDirectory:
 * created when missing, as postfix check does; ownership, modes, journal
 * segments, corrupt records, a stale pid file) and the HTTP API's settings
 * (readApiConfig) on standard error, and a warning for every policy server
 * and each milter (milter-probe) it cannot connect to. Exit 1 on any error;
 * warnings alone exit 0.
 */
import { checkConfig, formatProblem } from '../config/check-config.js';
import { MainConfig } from '../config/main-config.js';
import { checkQueueDirectory, formatQueueProblem } from '../admin/check-queue.js';
import { HttpApiConfigError, readApiConfig } from '../admin/http-api/api-config.js';
import { load } from './cli-config-dir.js';
import { join } from 'node:path';
import { probePolicyServices } from '../config/check-policy-services.js';
import { probeMilters } from '../global/milter-probe.js';

/** Returns the exit status. */
export async function check(dir: string): Promise<number> {
  const loaded = load(dir);
  const queueDir = new MainConfig(loaded.params, loaded.dir).path('queue_directory');
  const problems = [...checkConfig(loaded), ...(await probePolicyServices(loaded, join(loaded.dir, 'main.cf'), queueDir))];
  for (const p of problems) process.stderr.write(formatProblem(p) + '\n');
  // A milter that refuses now is a warning: it may start later, and mail meanwhile gets milter_default_action.
  for (const text of await probeMilters(loaded.params, loaded.dir, loaded.master.map((s) => s.overrides))) process.stderr.write(`postrider: warning: ${text}\n`);
  let errors = problems.filter((p) => p.severity === 'error').length;
  // The HTTP API's address, tokens and TLS files, as start reads them.
  try {
    readApiConfig(new MainConfig(loaded.params, loaded.dir));
  } catch (err) {
    if (!(err instanceof HttpApiConfigError)) throw err;
    process.stderr.write(`postrider: error: ${err.message}\n`);
    errors++;
  }
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
