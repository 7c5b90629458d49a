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
import { installHttpApi } from './http-api/api-install.js';
import { qmgrLoad, queueCounts } from './queue-view.js';

export function installAdmin(sup: Supervisor, queueDir: string): void {
  const view = { callActor: sup.callActor.bind(sup), shards: () => sup.queueShards() };
  const commands = adminCommands({ queueDir, ...view });
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
  sup.addStatusProvider('qmgr', section('qmgr', () => qmgrLoad(view, { timeoutMs: 1000 })));
  sup.addStatusProvider('queue', section('journal', () => queueCounts(view, { timeoutMs: 1000 })));
  installMetrics(sup);
  installHttpApi(sup);
}
