/**
 * cli-init: `postrider init DIR [--queue-directory PATH]`: a fresh
 * configuration directory made from the shipped, commented templates
 * (main.cf, master.cf, aliases), with queue_directory set to PATH (default
 * /var/spool/postrider, Postfix's layout). DIR is created when missing; an
 * existing main.cf, master.cf or aliases in it is never overwritten: the
 * command then fails before writing anything.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { setParameters } from '../config/main-cf-edit.js';
import { CliError, UsageError } from './cli-error.js';
import { templateDir } from './package-info.js';

const FILES = ['main.cf', 'master.cf', 'aliases'];

export function init(args: string[], opts: { queueDirectory?: string } = {}): number {
  const [target, extra] = args;
  if (!target || extra !== undefined) throw new UsageError('usage: postrider init DIR [--queue-directory PATH]');
  const dir = resolve(target);
  const existing = FILES.filter((f) => existsSync(join(dir, f)));
  if (existing.length) throw new CliError(`init: ${join(dir, existing[0])} exists; nothing written`);
  const texts = FILES.map((f) => {
    try {
      return readFileSync(join(templateDir(), f), 'utf8');
    } catch (err) {
      throw new CliError(`init: the template ${f} is missing from this installation: ${(err as Error).message}`);
    }
  });
  texts[0] = setParameters(texts[0], [{ name: 'queue_directory', value: opts.queueDirectory ?? '/var/spool/postrider' }]).text;
  mkdirSync(dir, { recursive: true, mode: 0o755 });
  FILES.forEach((f, i) => writeFileSync(join(dir, f), texts[i], { mode: 0o644, flag: 'wx' }));
  process.stdout.write(`postrider: wrote ${FILES.map((f) => join(dir, f)).join(', ')}\n`);
  return 0;
}
