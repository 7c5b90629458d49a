/**
 * cli-check: `postrider check`: prints every configuration problem on
 * standard error (formatProblem) and checks the queue directory (created
 * when missing, as postfix check does). Exit 1 on any error; warnings alone
 * exit 0.
 */
import { mkdirSync, statSync } from 'node:fs';
import { checkConfig, formatProblem } from '../config/check-config.js';
import { MainConfig } from '../config/main-config.js';
import { load } from './cli-config-dir.js';

/** Returns the exit status. */
export function check(dir: string): number {
  const loaded = load(dir);
  const problems = checkConfig(loaded);
  for (const p of problems) process.stderr.write(formatProblem(p) + '\n');
  let errors = problems.filter((p) => p.severity === 'error').length;
  const queueDir = new MainConfig(loaded.params, loaded.dir).path('queue_directory');
  if (!queueDir) {
    process.stderr.write('postrider: error: queue_directory is not set\n');
    errors++;
  } else {
    try {
      mkdirSync(queueDir, { recursive: true, mode: 0o755 });
      if (!statSync(queueDir).isDirectory()) throw new Error('not a directory');
    } catch (err) {
      process.stderr.write(`postrider: error: queue_directory ${queueDir}: ${(err as Error).message.split('\n')[0]}\n`);
      errors++;
    }
  }
  return errors > 0 ? 1 : 0;
}
