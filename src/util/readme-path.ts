/**
 * readme-path: where the project's README.md is, for the programs that
 * regenerate its tables (parameters, roles). Nothing throws.
 */
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The nearest directory above this module holding package.json and README.md; past the root, the usual place (so an error names a path). */
export function defaultReadmePath(): string {
  const here = dirname(fileURLToPath(import.meta.url));
  let dir = here;
  for (;;) {
    if (existsSync(join(dir, 'package.json')) && existsSync(join(dir, 'README.md'))) return join(dir, 'README.md');
    const up = dirname(dir);
    if (up === dir) return resolve(here, '../../../README.md');
    dir = up;
  }
}
