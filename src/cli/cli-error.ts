/**
 * cli-error: how a command fails: one line "postrider: fatal: reason" on
 * standard error and exit status 1. Commands throw CliError (or any error
 * with a message); main.ts prints it. A bad command line is a UsageError:
 * the same one line, exit status 2.
 */

export class CliError extends Error {
  constructor(
    message: string,
    readonly code = 'ERR_CLI',
  ) {
    super(message);
    this.name = 'CliError';
  }
}

/** Prints the fatal line; the caller sets the exit status. */
export function printFatal(err: unknown): void {
  const message = ((err as Error)?.message ?? String(err)).split('\n')[0];
  process.stderr.write(`postrider: fatal: ${message}\n`);
}

/** A bad command line: one line, and exit status 2 (as getopt-style tools use for usage errors). */
export class UsageError extends CliError {
  constructor(message: string) {
    super(message, 'ERR_USAGE');
    this.name = 'UsageError';
  }
}
