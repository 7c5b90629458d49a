/**
 * admin-install: puts the queue administration commands on a supervisor's
 * control socket and the queue counts into its status, and serves the
 * Prometheus endpoint when metrics_listen is set (metrics-install.ts: from
 * the end of start() until the supervisor stops, following reload). A
 * malformed metrics_listen throws MetricsListenError at once; an address
 * that cannot be bound makes start() stop the tree and reject with
 * MetricsServerError (a start hook).
 */
import type { Supervisor } from '../supervisor/supervisor.js';
import { adminCommands } from './admin-commands.js';
import { installMetrics } from './metrics-install.js';

export function installAdmin(sup: Supervisor, queueDir: string): void {
  const commands = adminCommands({
    queueDir,
    callActor: sup.callActor.bind(sup),
  });
  for (const [name, handler] of Object.entries(commands)) sup.control.register(name, handler);
  // status must answer fast even while an actor restarts: short timeouts, and
  // no call at all to a role that has no running instance.
  const section = (role: string, call: () => Promise<unknown>) => async (): Promise<unknown> => {
    if (!sup.hasLiveActor(role)) return { error: `${role} is not running` };
    try {
      return await call();
    } catch (err) {
      return { error: (err as Error).message };
    }
  };
  sup.addStatusProvider('qmgr', section('qmgr', () => sup.callActor('qmgr', 'load', {}, { timeoutMs: 1000 })));
  sup.addStatusProvider('queue', section('journal', () => sup.callActor('journal', 'counts', {}, { timeoutMs: 1000 })));
  installMetrics(sup);
}
