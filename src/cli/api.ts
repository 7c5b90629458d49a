/**
 * api: what a Node program may embed (the package's main export,
 * `import { startMailSystem } from 'postrider'`).
 *
 *   startMailSystem(configDir)  checks the configuration directory (its
 *       errors reject with one line naming the first), starts every actor
 *       with the control socket, metrics and admin commands, and resolves
 *       once the mail system serves. The handle stops it, reloads it from
 *       the directory, and reports its status; `done` resolves with the
 *       exit status once it has stopped.
 *   runCommand(argv)  any `postrider` command line, resolving with its exit
 *       status (output on the process's standard output and error).
 *   check, status, stop, reload, queue, flush, init, configCommand,
 *       newaliases, saslpasswd: the commands as functions, as main.ts calls
 *       them.
 *   loadConfig, checkConfig, formatProblem: the configuration as `check`
 *       reads it.
 *
 * The process's signals are left alone: the embedding program decides what
 * SIGTERM and SIGHUP do (call stop() and reload()).
 */
import { checkConfig, formatProblem } from '../config/check-config.js';
import { configHasErrors, loadConfig, type LoadedConfig } from '../config/load-config.js';
import type { SupervisorStatus } from '../supervisor/supervisor-types.js';
import { defaultRegistry } from '../supervisor/roles.js';
import { Supervisor } from '../supervisor/supervisor.js';
import { installAdmin } from '../admin/admin-install.js';
import { loadChecked, queueDirOf } from './cli-config-dir.js';
import { CliError } from './cli-error.js';

export { main as runCommand } from './main.js';
export { check } from './cli-check.js';
export { status } from './cli-status.js';
export { stop } from './cli-stop.js';
export { reload } from './cli-reload.js';
export { queue, flush } from './cli-queue.js';
export { init } from './cli-init.js';
export { configCommand } from './cli-config.js';
export { newaliases } from './cli-newaliases.js';
export { saslpasswd } from './cli-saslpasswd.js';
export { loadConfig, checkConfig, formatProblem, type LoadedConfig };
export type { SupervisorStatus };

/** A running mail system started by startMailSystem. */
export interface MailSystem {
  readonly supervisor: Supervisor;
  /** Resolves with the exit status once the mail system has stopped. */
  readonly done: Promise<number>;
  /** Stops gracefully: listeners close, work in flight finishes or stays queued. */
  stop(): Promise<void>;
  /** Re-reads the configuration directory; a configuration with errors is refused and the running one stays. */
  reload(): Promise<void>;
  status(): Promise<SupervisorStatus>;
}

/** Starts the mail system on the configuration directory `configDir`; resolves once it serves. */
export async function startMailSystem(configDir: string): Promise<MailSystem> {
  const config = loadChecked(configDir);
  if (configHasErrors(config)) {
    const first = config.problems.find((p) => p.severity === 'error')!;
    throw new CliError(`the configuration has errors; not started: ${formatProblem(first)}`);
  }
  const supervisor = new Supervisor({ config, registry: defaultRegistry(), loadConfig: () => loadChecked(configDir) });
  installAdmin(supervisor, queueDirOf(config));
  await supervisor.start();
  return {
    supervisor,
    done: supervisor.done,
    stop: () => supervisor.stop(),
    reload: async () => {
      const next = loadChecked(configDir);
      if (configHasErrors(next)) {
        const first = next.problems.find((p) => p.severity === 'error')!;
        throw new CliError(`the configuration has errors; not reloaded: ${formatProblem(first)}`);
      }
      await supervisor.reload(next);
    },
    status: () => supervisor.status(),
  };
}
