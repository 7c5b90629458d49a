#!/usr/bin/env node
/**
 * main: the `postrider` command. Global option -c DIR (default
 * $POSTRIDER_CONFIG, else ./etc); commands start-fg, start, stop, reload,
 * status [--json], check, config [-n] [-d] [name ...], newaliases, sendmail
 * and bench (these two parse their own options). Invoked through a link
 * named sendmail, mailq or newaliases it runs that command. Every failure is one
 * line "postrider: fatal: reason" on standard error and exit status 1.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { basename, resolve } from 'node:path';
import { printFatal, CliError } from './cli-error.js';

/** What a command gets: the configuration directory, its own arguments and the parsed flags. */
export interface CommandInput {
  dir: string;
  args: string[];
  flags: Record<string, string | boolean | undefined>;
}

/** A command returns its exit status (or nothing for 0). */
export type Command = (input: CommandInput) => Promise<number | void> | number | void;

// Each command loads its module when run, so `status` does not pay for the supervisor's imports.
const COMMANDS = new Map<string, Command>([
  ['start-fg', async ({ dir }) => (await import('./cli-start-fg.js')).startForeground(dir)],
  ['start', async ({ dir }) => (await import('./cli-start.js')).start(dir)],
  ['stop', async ({ dir }) => (await import('./cli-stop.js')).stop(dir)],
  ['reload', async ({ dir }) => (await import('./cli-reload.js')).reload(dir)],
  ['status', async ({ dir, flags }) => (await import('./cli-status.js')).status(dir, { json: flags.json === true })],
  ['check', async ({ dir }) => (await import('./cli-check.js')).check(dir)],
  [
    'config',
    async ({ dir, args, flags }) =>
      (await import('./cli-config.js')).config(dir, { nonDefault: flags.n === true, defaults: flags.d === true, names: args }),
  ],
  ['queue', async ({ dir, args, flags }) => (await import('./cli-queue.js')).queue(dir, args, { json: flags.json === true })],
  ['flush', async ({ dir, args }) => (await import('./cli-queue.js')).flush(dir, args)],
  ['logrotate', async ({ dir }) => (await import('./cli-queue.js')).logrotate(dir)],
  ['fault', async ({ dir, args }) => (await import('./cli-queue.js')).fault(dir, args)],
  ['saslpasswd', async ({ dir, args }) => (await import('./cli-saslpasswd.js')).saslpasswd(dir, args)],
  ['newaliases', async ({ dir }) => (await import('./cli-newaliases.js')).newaliases(dir)],
]);

function configDirOf(option: string | undefined): string {
  return resolve(option || process.env.POSTRIDER_CONFIG || './etc');
}

/** Commands that keep an option syntax of their own, so their arguments bypass parseArgs. */
const OWN_SYNTAX = new Set(['sendmail', 'bench']);

/**
 * `[-c DIR] sendmail ARGS` and `[-c DIR] bench ARGS`: the command and its
 * untouched arguments; undefined for every other command.
 */
function ownSyntaxArgs(argv: string[]): { command: string; dir: string; args: string[] } | undefined {
  let i = 0;
  let dir: string | undefined;
  if (argv[0] === '-c' && argv.length > 1) {
    dir = argv[1];
    i = 2;
  } else if (argv[0]?.startsWith('-c') && argv[0].length > 2) {
    dir = argv[0].slice(2);
    i = 1;
  }
  if (!OWN_SYNTAX.has(argv[i])) return undefined;
  return { command: argv[i], dir: configDirOf(dir), args: argv.slice(i + 1) };
}

async function ownSyntaxCommand(command: string, dir: string, args: string[]): Promise<number> {
  // sendmail -bp is mailq, -bi is newaliases, as in Postfix's sendmail.
  if (command === 'sendmail' && args[0] === '-bp') return (await import('./cli-queue.js')).queue(dir, [], {});
  if (command === 'sendmail' && args[0] === '-bi') return (await import('./cli-newaliases.js')).newaliases(dir);
  if (command === 'sendmail') return (await import('./cli-sendmail-command.js')).sendmailCommand(dir, args);
  return (await import('./cli-bench.js')).bench(args);
}

const USAGE = `usage: postrider [-c config_dir] ${[...COMMANDS.keys(), ...OWN_SYNTAX].join('|')} [args]`;

/** Runs one command line; resolves with the exit status. */
export async function main(argv: string[]): Promise<number> {
  // sendmail keeps sendmail's own option syntax (-t, -i, -oi, -f, -F, ...), bench smtp-source's.
  const own = ownSyntaxArgs(argv);
  if (own) {
    try {
      return await ownSyntaxCommand(own.command, own.dir, own.args);
    } catch (err) {
      printFatal(err);
      return 1;
    }
  }
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        c: { type: 'string', short: 'c' },
        json: { type: 'boolean' },
        n: { type: 'boolean', short: 'n' },
        d: { type: 'boolean', short: 'd' },
      },
    });
  } catch (err) {
    printFatal(new CliError(`${(err as Error).message.split('\n')[0]}; ${USAGE}`));
    return 1;
  }
  const [command, ...args] = parsed.positionals;
  const fn = command ? COMMANDS.get(command) : undefined;
  if (!fn) {
    printFatal(new CliError(command ? `unknown command: ${command}; ${USAGE}` : USAGE));
    return 1;
  }
  try {
    const code = await fn({ dir: configDirOf(parsed.values.c), args, flags: parsed.values });
    return typeof code === 'number' ? code : 0;
  } catch (err) {
    printFatal(err);
    return 1;
  }
}

// Run when executed as the program (also through a bin symlink), not when imported.
function invokedAsProgram(): boolean {
  try {
    return !!process.argv[1] && pathToFileURL(realpathSync(process.argv[1])).href === import.meta.url;
  } catch {
    return false;
  }
}

/**
 * The command line a program name stands for: invoked through a link named
 * sendmail, mailq or newaliases (as distributions install Postfix's), it is
 * `postrider sendmail ARGS`, `postrider queue ARGS`, `postrider newaliases`.
 */
export function argvForProgramName(program: string, args: string[]): string[] {
  switch (basename(program)) {
    case 'sendmail':
      return ['sendmail', ...args];
    case 'mailq':
      return ['queue', ...args];
    case 'newaliases':
      return ['newaliases', ...args];
    default:
      return args;
  }
}

if (invokedAsProgram()) {
  void main(argvForProgramName(process.argv[1], process.argv.slice(2))).then((code) => {
    // start-fg has stopped its workers; nothing should keep the process, but never linger
    if (process.argv.includes('start-fg')) process.exit(code);
    process.exitCode = code;
  });
}
