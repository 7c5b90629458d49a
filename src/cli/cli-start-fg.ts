/**
 * cli-start-fg: `postrider start-fg`: runs the supervisor in the
 * foreground. Refuses a configuration with errors (each printed) and a
 * queue directory whose pid file names a live daemon. SIGTERM and SIGINT
 * stop gracefully (exit 0), SIGHUP reloads; a fatal supervisor error
 * (restart intensity exceeded before the daemon served) exits 1.
 * Under a Type=notify systemd unit (NOTIFY_SOCKET set) it tells systemd
 * READY=1 once every listener accepts, RELOADING=1 and READY=1 around a
 * reload and STOPPING=1 when the stop begins (service-notify), and takes
 * NOTIFY_SOCKET out of the environment everything it starts inherits.
 */
import { defaultRegistry } from '../supervisor/roles.js';
import type { RoleSpec } from '../supervisor/role-registry.js';
import { Supervisor } from '../supervisor/supervisor.js';
import { loadChecked, loadStartable, queueDirOf } from './cli-config-dir.js';
import { installAdmin } from '../admin/admin-install.js';
import { reopenLog } from '../util/log.js';
import { takeNotifySocket, type ServiceNotifier } from '../supervisor/service-notify.js';

/**
 * Runs until stopped; resolves with the exit status. `registry` replaces the
 * real roles (tests); `onStarted` runs once every actor is ready.
 */
export async function startForeground(dir: string, opts: { registry?: RoleSpec[]; onStarted?: (sup: Supervisor) => void } = {}): Promise<number> {
  const config = loadStartable(dir);
  const notifier = takeNotifySocket(process.env, printWarning);
  const sup = new Supervisor({ config, registry: opts.registry ?? defaultRegistry(), loadConfig: () => loadChecked(dir) });
  if (!opts.registry) installAdmin(sup, queueDirOf(config));
  if (notifier) tellSystemd(sup, notifier, dir);
  const stop = (): void => void sup.stop();
  const reload = (): void => {
    // SIGHUP also serves log rotation: the new actors open maillog_file anew,
    // and the supervisor's own lines follow.
    reopenLog();
    try {
      void sup.reload(loadChecked(dir)).catch((err: unknown) => printWarning(errorLine(err)));
    } catch (err) {
      printWarning(errorLine(err));
    }
  };
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
  process.on('SIGHUP', reload);
  try {
    await sup.start();
    notifier?.ready(`accepting mail; configuration ${dir}`);
    opts.onStarted?.(sup);
    return await sup.done;
  } finally {
    process.off('SIGTERM', stop);
    process.off('SIGINT', stop);
    process.off('SIGHUP', reload);
    // STOPPING=1 (sent when the stop began) reaches systemd before the process ends.
    await notifier?.settled();
  }
}

/** Follows the supervisor's reloads and stop with the messages systemd expects. */
function tellSystemd(sup: Supervisor, notifier: ServiceNotifier, dir: string): void {
  sup.on('reloading', () => notifier.reloading());
  sup.on('reloaded', (refused: unknown) => {
    const when = new Date().toISOString();
    // the supervisor's reasons begin "reload refused:" or "reload failed:"
    notifier.ready(refused ? `accepting mail; ${errorLine(refused)} (at ${when})` : `accepting mail; configuration ${dir} reloaded at ${when}`);
  });
  sup.on('stopping', () => notifier.stopping());
}

function errorLine(err: unknown): string {
  return ((err as Error)?.message ?? String(err)).split('\n')[0];
}

function printWarning(line: string): void {
  // a refused SIGHUP reload keeps the daemon running: a warning, not an exit
  process.stderr.write(`postrider: warning: ${line}\n`);
}
