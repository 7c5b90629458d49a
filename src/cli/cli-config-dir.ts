/**
 * cli-config-dir: loading the configuration directory a command was given
 * (main.ts resolves -c DIR, $POSTRIDER_CONFIG or ./etc), checked or not, and
 * the queue directory it names.
 */
import { checkConfig, formatProblem } from '../config/check-config.js';
import { configHasErrors, loadConfig, type LoadedConfig } from '../config/load-config.js';
import { MainConfig } from '../config/main-config.js';
import { CliError } from './cli-error.js';

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

/** The queue directory named by the configuration in `dir` (what stop, status, reload and queue talk to). */
export function queueDirAt(dir: string): string {
  return queueDirOf(load(dir));
}
