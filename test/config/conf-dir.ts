/** conf-dir: a temporary configuration directory holding the given main.cf and master.cf. */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Writes main.cf and master.cf (by default one cleanup service) to a new temporary directory. */
export function confDir(main: string, master = 'cleanup unix n - n - 0 cleanup\n'): string {
  const dir = mkdtempSync(join(tmpdir(), 'postrider-config-'));
  writeFileSync(join(dir, 'main.cf'), main);
  writeFileSync(join(dir, 'master.cf'), master);
  return dir;
}
