/**
 * cli-bench: `postrider bench run|source|sink|all`, the benchmark harness
 * (perf/harness). It needs no configuration directory: the harness starts
 * Postrider on a temporary configuration of its own. The harness is part of
 * a source checkout, not of the installed package.
 */
import { CliError, printFatal } from './cli-error.js';

async function harness(): Promise<typeof import('../../perf/harness/bench-command.js')> {
  try {
    return await import('../../perf/harness/bench-command.js');
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ERR_MODULE_NOT_FOUND') {
      throw new CliError('bench: the benchmark harness is not installed; run it from a source checkout');
    }
    throw err;
  }
}

export async function bench(args: string[]): Promise<number> {
  const { benchCommand, BenchUsageError } = await harness();
  try {
    return await benchCommand(args);
  } catch (err) {
    if (err instanceof BenchUsageError) {
      // One fatal line; the usage is `postrider bench --help`.
      printFatal(new Error(`${err.message.split('\n')[0]}; see postrider help bench`));
      return 1;
    }
    throw err;
  }
}
