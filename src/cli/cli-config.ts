/**
 * cli-config: `postrider config`, postconf's command line.
 *   [-n] [-d] [-x] [-h] [name ...]  parameters as postconf prints them;
 *                                   unknown names are warnings on standard error;
 *   -e name=value ...               set in main.cf, in place (main-cf-edit);
 *   -X name ...                     remove from main.cf;
 *   -# name ...                     comment out in main.cf;
 *   -M [service[/type] ...]         master.cf entries (postconf-master);
 *   -P [service/type/name ...]      master.cf -o settings.
 * An edit writes main.cf.tmp, fsyncs it and renames it over main.cf, so a
 * crash leaves the old file or the new one. A bad argument is a UsageError.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, statSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { commentOutParameters, parseSetting, removeParameters, setParameters, type EditResult } from '../config/main-cf-edit.js';
import { formatMasterEntries, formatServiceParameters } from '../config/postconf-master.js';
import { renderParameters } from '../config/postconf.js';
import { load } from './cli-config-dir.js';
import { CliError, UsageError } from './cli-error.js';

type Flags = Record<string, string | boolean | string[] | undefined>;

function readText(file: string, missingOk: boolean): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (err) {
    if (missingOk && (err as NodeJS.ErrnoException).code === 'ENOENT') return '';
    throw new CliError(`open ${file}: ${(err as Error).message}`);
  }
}

/** Replaces `file` by rename, keeping its mode. */
function replaceFile(file: string, text: string): void {
  let mode = 0o644;
  try {
    mode = statSync(file).mode & 0o7777;
  } catch {
    // a new main.cf gets 0644, as postconf gives it
  }
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, 'w', mode);
  try {
    writeSync(fd, text);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

function editMainCf(dir: string, edit: (text: string) => EditResult): number {
  const file = join(dir, 'main.cf');
  const result = edit(readText(file, true));
  replaceFile(file, result.text);
  for (const name of result.duplicates) process.stderr.write(`postrider: warning: ${file}: multiple entries for "${name}"\n`);
  return 0;
}

/** `postrider config ...`; returns the exit status. */
export function configCommand(dir: string, args: string[], flags: Flags): number {
  const modes = ['e', 'X', '#', 'M', 'P'].filter((m) => flags[m] === true);
  if (modes.length > 1) throw new UsageError(`config: -${modes[0]} and -${modes[1]} do not go together`);
  const needNames = (m: string): void => {
    if (args.length === 0) throw new UsageError(`config: -${m} needs at least one ${m === 'e' ? 'name=value' : 'name'}`);
  };
  switch (modes[0]) {
    case 'e': {
      needNames('e');
      let settings;
      try {
        settings = args.map(parseSetting);
      } catch (err) {
        throw new UsageError(`config: ${(err as Error).message}`);
      }
      return editMainCf(dir, (t) => setParameters(t, settings));
    }
    case 'X':
      needNames('X');
      return editMainCf(dir, (t) => removeParameters(t, args));
    case '#':
      needNames('#');
      return editMainCf(dir, (t) => commentOutParameters(t, args));
    case 'M':
      process.stdout.write(formatMasterEntries(readText(join(dir, 'master.cf'), false), args));
      return 0;
    case 'P':
      process.stdout.write(formatServiceParameters(readText(join(dir, 'master.cf'), false), args));
      return 0;
  }
  const r = renderParameters(load(dir), {
    nonDefault: flags.n === true,
    defaults: flags.d === true,
    expand: flags.x === true,
    valuesOnly: flags.h === true,
    names: args,
  });
  process.stdout.write(r.text);
  for (const w of r.warnings) process.stderr.write(w + '\n');
  return 0;
}
