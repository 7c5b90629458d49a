/**
 * cli-start-fg: `postrider start-fg`: runs the supervisor in the
 * foreground. Refuses a configuration with errors (each printed) and a
 * queue directory whose pid file names a live daemon. SIGTERM and SIGINT
 * stop gracefully (exit 0), SIGHUP reloads; a fatal supervisor error
 * (restart intensity exceeded before the daemon served) exits 1.
 */
import { defaultRegistry } from '../supervisor/roles.js';
import type { RoleSpec } from '../supervisor/role-registry.js';
import { Supervisor } from '../supervisor/supervisor.js';
import { loadChecked, loadStartable, queueDirOf } from './cli-config-dir.js';
import { installAdmin } from '../admin/admin-install.js';
import { reopenLog } from '../util/log.js';

/**
 * Runs until stopped; resolves with the exit status. `registry` replaces the
 * real roles (tests); `onStarted` runs once every actor is ready.
 */
export async function startForeground(dir: string, opts: { registry?: RoleSpec[]; onStarted?: (sup: Supervisor) => void } = {}): Promise<number> {
  const config = loadStartable(dir);
  const sup = new Supervisor({ config, registry: opts.registry ?? defaultRegistry(), loadConfig: () => loadChecked(dir) });
  if (!opts.registry) installAdmin(sup, queueDirOf(config));
  const stop = (): void => void sup.stop();
  const reload = (): void => {
    // SIGHUP also serves log rotation: the new actors open maillog_file anew,
    // and the supervisor's own lines follow.
    reopenLog();
    try {
      void sup.reload(loadChecked(dir)).catch((err: unknown) => printFatalLine(err));
    } catch (err) {
      printFatalLine(err);
    }
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', reload);
  try {
    await sup.start();
    opts.onStarted?.(sup);
    return await sup.done;
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
    process.off('SIGHUP', reload);
  }
}

function printFatalLine(err: unknown): void {
  // a refused SIGHUP reload keeps the daemon running: a warning, not an exit
  process.stderr.write(`postrider: warning: ${((err as Error)?.message ?? String(err)).split('\n')[0]}\n`);
}
