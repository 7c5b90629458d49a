/**
 * cli-config-dir: the configuration every command reads: -c DIR, else
 * $POSTRIDER_CONFIG, else ./etc; and the queue directory it names.
 */
import { resolve } from 'node:path';
import { checkConfig, formatProblem } from '../config/check-config.js';
import { configHasErrors, loadConfig, type LoadedConfig } from '../config/load-config.js';
import { MainConfig } from '../config/main-config.js';
import { CliError } from './cli-error.js';

export function configDir(option: string | undefined): string {
  return resolve(option || process.env.POSTRIDER_CONFIG || './etc');
}

export function load(dir: string): LoadedConfig {
  return loadConfig(dir);
}

/** The configuration with every problem checkConfig finds, not only the loader's. */
export function loadChecked(dir: string): LoadedConfig {
  const loaded = load(dir);
  return { ...loaded, problems: checkConfig(loaded) };
}

/** loadChecked for start and start-fg: each error printed, then CliError when there are any. */
export function loadStartable(dir: string): LoadedConfig {
  const config = loadChecked(dir);
  if (configHasErrors(config)) {
    for (const p of config.problems) if (p.severity === 'error') process.stderr.write(formatProblem(p) + '\n');
    throw new CliError('the configuration has errors; not started');
  }
  return config;
}

/** queue_directory, resolved against the configuration directory. */
export function queueDirOf(loaded: { params: Record<string, string>; dir: string }): string {
  const q = new MainConfig(loaded.params, loaded.dir).path('queue_directory');
  if (!q) throw new CliError('queue_directory is not set');
  return q;
}
