/**
 * cli-newaliases: `postrider newaliases` (also `newaliases`, `sendmail -bi`),
 * Postfix's newaliases(1): checks every alias file that alias_database
 * names (aliases(5) format, as the local agent reads it) and prints, per
 * file, what it read, as sendmail's newaliases words it ("FILE: N aliases,
 * longest L bytes, T bytes total"). There is no database file to build:
 * the local agent reads an alias file again when it changes; a running
 * daemon is reloaded, so that smtpd's local_recipient_maps see the new
 * names too. A table that is no file (regexp:, inline:, ...) is named and
 * left alone. Errors: CliError naming the file and line of the first bad
 * entry (nothing is reloaded then).
 */
import { readFileSync } from 'node:fs';
import { loadConfig, mainConfigOf } from '../config/load-config.js';
import { splitList } from '../config/main-config.js';
import { isTextTable, parseAliases } from '../config/table-aliases.js';
import { splitSpec, tablePath } from '../config/lookup-table.js';
import { ConfigError } from '../config/main-config.js';
import { queueDirOf } from './cli-config-dir.js';
import { CliError } from './cli-error.js';
import { controlRequest, ControlError } from './control-client.js';

/** Returns the exit status. */
export async function newaliases(dir: string): Promise<number> {
  const loaded = loadConfig(dir);
  const config = mainConfigOf(loaded);
  const specs = splitList(config.get('alias_database'));
  for (const spec of specs) {
    if (!isTextTable(spec)) {
      process.stdout.write(`${spec}: not an alias file; nothing to load\n`);
      continue;
    }
    const path = tablePath(splitSpec(spec)!.name, config.dir);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (err) {
      throw new CliError(`open ${path}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
    }
    let entries;
    try {
      entries = parseAliases(text, path);
    } catch (err) {
      throw new CliError(err instanceof ConfigError ? err.message : String(err));
    }
    const seen = new Set<string>();
    let longest = 0;
    let total = 0;
    for (const e of entries) {
      if (seen.has(e.name)) {
        process.stderr.write(`postrider/newaliases: warning: ${path}, line ${e.line}: duplicate entry: "${e.name}"\n`);
        continue;
      }
      seen.add(e.name);
      const bytes = Buffer.byteLength(e.name) + Buffer.byteLength(e.value);
      longest = Math.max(longest, bytes);
      total += bytes;
    }
    process.stdout.write(`${path}: ${seen.size} aliases, longest ${longest} bytes, ${total} bytes total\n`);
  }
  try {
    await controlRequest(queueDirOf(loaded), 'reload');
  } catch (err) {
    if (!(err instanceof ControlError && err.code === 'ERR_NOT_RUNNING')) throw new CliError(`reload: ${(err as Error).message}`);
  }
  return 0;
}
