#!/usr/bin/env node
/**
 * main: the `postrider` command. Global options -c DIR (default
 * $POSTRIDER_CONFIG, else the default of package-info), --help and
 * --version; then a command of cli-commands-table, whose options parseArgs
 * reads anywhere on the line. sendmail and bench keep their own option
 * syntax. Invoked through a link named sendmail, mailq or newaliases it runs
 * that command. A failure is one line "postrider: fatal: reason" on
 * standard error and exit status 1; a bad command line the same, exit 2.
 * A closed standard output (`postrider queue | head -1`) ends the command
 * quietly.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { basename } from 'node:path';
import { printFatal, UsageError } from './cli-error.js';
import { findCommand, GLOBAL_OPTIONS, type CommandSpec, type OptionSpec } from './cli-commands-table.js';
import { commandHelp, mainHelp } from './cli-help.js';
import { configDirOf, packageVersion } from './package-info.js';
import { enableCompileCache } from '../util/compile-cache.js';

/** What a command gets: the configuration directory, its positional arguments and the parsed options. */
export interface CommandInput {
  dir: string;
  args: string[];
  flags: Record<string, string | boolean | string[] | undefined>;
}

/** A command returns its exit status (or nothing for 0). */
export type Command = (input: CommandInput) => Promise<number | void> | number | void;

const bool = (v: unknown): boolean => v === true;

// Each command loads its module when run, so `status` does not pay for the supervisor's imports.
const RUNNERS = new Map<string, Command>([
  ['start-fg', async ({ dir }) => (await import('./cli-start-fg.js')).startForeground(dir)],
  ['start', async ({ dir }) => (await import('./cli-start.js')).start(dir)],
  ['stop', async ({ dir }) => (await import('./cli-stop.js')).stop(dir)],
  ['reload', async ({ dir }) => (await import('./cli-reload.js')).reload(dir)],
  ['status', async ({ dir, flags }) => (await import('./cli-status.js')).status(dir, { json: bool(flags.json) })],
  ['check', async ({ dir }) => (await import('./cli-check.js')).check(dir)],
  ['config', async ({ dir, args, flags }) => (await import('./cli-config.js')).configCommand(dir, args, flags)],
  [
    'queue',
    async ({ dir, args, flags }) =>
      (await import('./cli-queue.js')).queue(dir, args, {
        json: bool(flags.json),
        headers: bool(flags.headers),
        body: bool(flags.body),
        envelope: bool(flags.envelope),
      }),
  ],
  ['flush', async ({ dir, args }) => (await import('./cli-queue.js')).flush(dir, args)],
  ['logrotate', async ({ dir }) => (await import('./cli-queue.js')).logrotate(dir)],
  ['fault', async ({ dir, args }) => (await import('./cli-queue.js')).fault(dir, args)],
  ['saslpasswd', async ({ args }) => (await import('./cli-saslpasswd.js')).saslpasswd(args)],
  ['newaliases', async ({ dir }) => (await import('./cli-newaliases.js')).newaliases(dir)],
  ['tlsrpt', async ({ dir, args, flags }) => (await import('./cli-tlsrpt.js')).tlsrpt(dir, args, { json: bool(flags.json), today: bool(flags.today) })],
  ['init', async ({ args, flags }) => (await import('./cli-init.js')).init(args, { queueDirectory: flags['queue-directory'] as string | undefined })],
]);

function versionText(dir: string): string {
  return `postrider ${packageVersion()}\nnode ${process.version}\nconfig_directory = ${dir}\n`;
}

/** `postrider help [COMMAND [SUBCOMMAND]]`. */
function help(args: string[]): number {
  if (args.length === 0) {
    process.stdout.write(mainHelp());
    return 0;
  }
  const cmd = findCommand(args[0]);
  if (!cmd) throw new UsageError(`help: unknown command: ${args[0]}; see postrider --help`);
  const sub = args[1] === undefined ? undefined : findCommand(args[0], args[1]);
  if (args[1] !== undefined && !sub) throw new UsageError(`help: ${args[0]} has no subcommand ${args[1]}; see postrider help ${args[0]}`);
  process.stdout.write(sub ? commandHelp(sub, cmd) : commandHelp(cmd));
  return 0;
}

/** sendmail and bench: their arguments go through untouched, but `--help` is ours. */
async function ownSyntaxCommand(cmd: CommandSpec, dir: string, args: string[]): Promise<number> {
  const dashes = args.indexOf('--');
  const before = dashes < 0 ? args : args.slice(0, dashes);
  if (before.includes('--help')) {
    const sub = cmd.subcommands?.find((s) => s.name === args[0]);
    process.stdout.write(sub ? commandHelp(sub, cmd) : commandHelp(cmd));
    return 0;
  }
  // sendmail -bp is mailq, -bi is newaliases, as in Postfix's sendmail.
  if (cmd.name === 'sendmail' && args[0] === '-bp') return (await import('./cli-queue.js')).queue(dir, [], {});
  if (cmd.name === 'sendmail' && args[0] === '-bi') return (await import('./cli-newaliases.js')).newaliases(dir);
  if (cmd.name === 'sendmail') return (await import('./cli-sendmail-command.js')).sendmailCommand(dir, args);
  return (await import('./cli-bench.js')).bench(args);
}

type ParseOptions = Record<string, { type: 'boolean' | 'string'; short?: string; multiple?: boolean }>;

function parseOptionsOf(specs: OptionSpec[]): ParseOptions {
  const out: ParseOptions = {};
  for (const o of specs) out[o.name] = { type: o.type, ...(o.short ? { short: o.short } : {}), ...(o.multiple ? { multiple: true } : {}) };
  return out;
}

/** parseArgs's message without its advice about `--` (the first sentence). */
function parseError(err: unknown, name: string): UsageError {
  const text = (err as Error).message.split('\n')[0];
  const first = text.replace(/\. To specify a positional argument.*$/, '').replace(/\.$/, '');
  return new UsageError(`${name}: ${first.charAt(0).toLowerCase()}${first.slice(1)}; see postrider help ${name.split(' ')[0]}`);
}

/** The global options before the command; the command's index. */
function leadingOptions(argv: string[]): { dir?: string; help: boolean; version: boolean; index: number } {
  const out: { dir?: string; help: boolean; version: boolean; index: number } = { help: false, version: false, index: 0 };
  let i = 0;
  for (; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--') {
      i++;
      break;
    }
    if (!a.startsWith('-') || a === '-') break;
    if (a === '-c') {
      if (i + 1 >= argv.length) throw new UsageError("option '-c' needs a configuration directory; see postrider --help");
      out.dir = argv[++i];
    } else if (a.startsWith('-c') && !a.startsWith('--')) out.dir = a.slice(2);
    else if (a.startsWith('--config=')) out.dir = a.slice('--config='.length);
    else if (a === '--help' || a === '-h') out.help = true;
    else if (a === '--version' || a === '-V') out.version = true;
    else throw new UsageError(`unknown option '${a}'; see postrider --help`);
  }
  out.index = i;
  return out;
}

async function run(argv: string[]): Promise<number> {
  const lead = leadingOptions(argv);
  const name = argv[lead.index];
  const rest = argv.slice(lead.index + 1);
  if (lead.version) {
    process.stdout.write(versionText(configDirOf(lead.dir)));
    return 0;
  }
  if (lead.help && name === undefined) {
    process.stdout.write(mainHelp());
    return 0;
  }
  if (name === undefined) throw new UsageError('no command given; see postrider --help');
  const cmd = findCommand(name);
  if (!cmd) throw new UsageError(`unknown command: ${name}; see postrider --help`);
  if (lead.help) return help([name, ...(cmd.subcommands?.some((s) => s.name === rest[0]) ? [rest[0]] : [])]);
  if (cmd.ownSyntax) return ownSyntaxCommand(cmd, configDirOf(lead.dir), rest);
  if (cmd.name === 'help') return help(rest.includes('--help') ? ['help'] : rest);
  // The subcommand's options join the command's, so `queue show ID --headers` parses.
  const subName = rest.find((a) => !a.startsWith('-'));
  const sub = cmd.subcommands?.find((s) => s.name === subName);
  let parsed;
  try {
    parsed = parseArgs({
      args: rest,
      allowPositionals: true,
      strict: true,
      options: parseOptionsOf([...GLOBAL_OPTIONS, ...cmd.options, ...(sub?.options ?? [])]),
    });
  } catch (err) {
    throw parseError(err, sub ? `${cmd.name} ${sub.name}` : cmd.name);
  }
  const flags = parsed.values as CommandInput['flags'];
  const dir = configDirOf((flags.c as string | undefined) ?? lead.dir);
  if (flags.help === true) {
    process.stdout.write(sub ? commandHelp(sub, cmd) : commandHelp(cmd));
    return 0;
  }
  if (flags.version === true) {
    process.stdout.write(versionText(dir));
    return 0;
  }
  const code = await RUNNERS.get(cmd.name)!({ dir, args: parsed.positionals, flags });
  return typeof code === 'number' ? code : 0;
}

/** Runs one command line; resolves with the exit status. */
export async function main(argv: string[]): Promise<number> {
  try {
    return await run(argv);
  } catch (err) {
    printFatal(err);
    return err instanceof UsageError ? 2 : 1;
  }
}

/**
 * A reader that went away (`postrider queue | head -1`) ends the command
 * quietly, as a Postfix command dies of SIGPIPE; any other error on the
 * output is a fatal line.
 */
function endQuietlyOnBrokenPipe(): void {
  process.stdout.on('error', (err: NodeJS.ErrnoException) => {
    if (err.code === 'EPIPE') process.exit(0);
    printFatal(err);
    process.exit(1);
  });
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
  endQuietlyOnBrokenPipe();
  // Before the command's modules load: they come compiled from the cache.
  enableCompileCache();
  void main(argvForProgramName(process.argv[1], process.argv.slice(2))).then((code) => {
    // start-fg has stopped its workers; nothing should keep the process, but never linger
    if (process.argv.includes('start-fg')) process.exit(code);
    process.exitCode = code;
  });
}
