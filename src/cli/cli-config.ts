/**
 * cli-config: `postrider config [-n] [-d] [name ...]`: parameters as
 * postconf prints them; unknown names are warnings on standard error.
 */
import { renderParameters } from '../config/postconf.js';
import { load } from './cli-config-dir.js';

export function config(dir: string, opts: { nonDefault?: boolean; defaults?: boolean; names?: string[] }): number {
  const r = renderParameters(load(dir), { nonDefault: opts.nonDefault, defaults: opts.defaults, names: opts.names });
  process.stdout.write(r.text);
  for (const w of r.warnings) process.stderr.write(w + '\n');
  return 0;
}
