/**
 * package-info: what the running copy of Postrider is: its version (from
 * package.json), whether it runs from a source checkout or from an
 * installed package, and so its default configuration directory
 * (./etc in a checkout, /etc/postrider when installed, as Postfix's is
 * /etc/postfix). Reading package.json fails only on a broken install,
 * which is reported as version "unknown".
 */
import { existsSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The package's root: dist/src/cli/ is three levels below it. */
export const PACKAGE_ROOT = fileURLToPath(new URL('../../../', import.meta.url));

export function packageVersion(): string {
  try {
    return (JSON.parse(readFileSync(join(PACKAGE_ROOT, 'package.json'), 'utf8')) as { version?: string }).version ?? 'unknown';
  } catch {
    return 'unknown';
  }
}

/** A checkout has its TypeScript sources next to dist/; an installed package ships dist/ alone. */
export function isCheckout(): boolean {
  return existsSync(join(PACKAGE_ROOT, 'tsconfig.json')) && existsSync(join(PACKAGE_ROOT, 'src'));
}

/** The configuration directory when neither -c nor $POSTRIDER_CONFIG names one. */
export function defaultConfigDir(): string {
  return isCheckout() ? resolve('./etc') : '/etc/postrider';
}

/** -c DIR, else $POSTRIDER_CONFIG, else the default; resolved against the current directory. */
export function configDirOf(option: string | undefined): string {
  return option ? resolve(option) : process.env.POSTRIDER_CONFIG ? resolve(process.env.POSTRIDER_CONFIG) : defaultConfigDir();
}

/** The shipped configuration templates (main.cf, master.cf, aliases) that `postrider init` copies. */
export function templateDir(): string {
  return join(PACKAGE_ROOT, 'etc');
}
