/**
 * cli-config-dir: the configuration every command reads: -c DIR, else
 * $POSTRIDER_CONFIG, else ./etc; and the queue directory it names.
 */
import { resolve } from 'node:path';
import { loadConfig, type LoadedConfig } from '../config/load-config.js';
import { MainConfig } from '../config/main-config.js';
import { CliError } from './cli-error.js';

export function configDir(option: string | undefined): string {
  return resolve(option || process.env.POSTRIDER_CONFIG || './etc');
}

export function load(dir: string): LoadedConfig {
  return loadConfig(dir);
}

/** queue_directory, resolved against the configuration directory. */
export function queueDirOf(loaded: { params: Record<string, string>; dir: string }): string {
  const q = new MainConfig(loaded.params, loaded.dir).path('queue_directory');
  if (!q) throw new CliError('queue_directory is not set');
  return q;
}
