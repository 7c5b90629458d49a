/**
 * cli-bench: `postrider bench run|source|sink|all`, the benchmark harness
 * (perf/harness). It needs no configuration directory: the harness starts
 * Postrider on a temporary configuration of its own.
 */
import { printFatal } from './cli-error.js';

export async function bench(args: string[]): Promise<number> {
  const { benchCommand, BenchUsageError } = await import('../../perf/harness/bench-command.js');
  try {
    return await benchCommand(args);
  } catch (err) {
    if (err instanceof BenchUsageError) {
      // The one fatal line first; a usage text after it.
      const [first, ...more] = err.message.split('\n');
      printFatal(new Error(first));
      if (more.length) process.stderr.write(more.join('\n') + '\n');
      return 1;
    }
    throw err;
  }
}
