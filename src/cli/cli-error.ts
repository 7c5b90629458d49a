/**
 * cli-error: how a command fails: one line "postrider: fatal: reason" on
 * standard error and exit status 1. Commands throw CliError (or any error
 * with a message); main.ts prints it.
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
