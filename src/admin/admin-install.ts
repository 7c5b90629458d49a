/**
 * admin-install: puts the queue administration commands on a supervisor's
 * control socket and the queue counts into its status.
 */
import type { Supervisor } from '../supervisor/supervisor.js';
import { reopenLog } from '../util/log.js';
import { adminCommands } from './admin-commands.js';

export function installAdmin(sup: Supervisor, queueDir: string): void {
  const commands = adminCommands({
    queueDir,
    callActor: (role, kind, body, opts) => sup.callActor(role, kind, body, opts),
    logrotate: async () => {
      reopenLog();
      const { actors } = await sup.status();
      await Promise.allSettled(
        actors
          .filter((a) => a.state === 'running')
          .map((a) => sup.callActor(a.role, 'reopenLog', {}, { instance: a.instance, timeoutMs: 5000 })),
      );
    },
  });
  for (const [name, handler] of Object.entries(commands)) sup.control.register(name, handler);
  sup.addStatusProvider('queue', async () => {
    try {
      return await sup.callActor('journal', 'counts', {}, { timeoutMs: 5000 });
    } catch (err) {
      return { error: (err as Error).message };
    }
  });
}
