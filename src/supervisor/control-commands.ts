/**
 * control-commands: the supervisor's built-in control socket commands:
 * ping (the daemon's pid, at once: daemon-liveness's probe), status, stop, reload, logrotate (every thread reopens maillog_file),
 * fault (refused unless debug_fault_injection = yes).
 * A command's failure is its one-line error reply.
 */
import { reopenLog } from '../util/log.js';
import type { ControlServer } from './control-server.js';
import { SupervisorError } from './supervisor-error.js';
import type { SupervisorConfig } from './role-registry.js';

/** What the built-in commands need of the supervisor (which registers them: an interface, so the two modules do not import each other). */
export interface BuiltinCommandHost {
  status(): Promise<unknown>;
  stop(): Promise<void>;
  loadConfig(): Promise<SupervisorConfig>;
  reload(config: SupervisorConfig): Promise<void>;
  broadcast(kind: 'reopenLog', body: Record<string, never>): Promise<Array<{ role: string; instance: number; ok: boolean; error?: string }>>;
  fault(role: string, instance: number, kind: string): void;
}

export function registerBuiltinCommands(server: ControlServer, sup: BuiltinCommandHost): void {
  server.register('ping', () => ({ pid: process.pid }));
  server.register('status', () => sup.status());
  server.register('stop', () => {
    // reply first; the client then waits for the pid to go away
    setImmediate(() => void sup.stop());
    return { stopping: true };
  });
  server.register('reload', async () => {
    const config = await sup.loadConfig();
    await sup.reload(config);
    return { reloaded: true };
  });
  server.register('logrotate', async () => {
    reopenLog();
    const results = await sup.broadcast('reopenLog', {});
    const failed = results.filter((r) => !r.ok);
    if (failed.length > 0) throw new Error(`logrotate: ${failed.map((f) => `${f.role}[${f.instance}]: ${f.error}`).join('; ')}`);
    return { reopened: results.length + 1 };
  });
  server.register('fault', (args) => {
    const [role, instance, kind] = args;
    if (!role || !instance || !kind || !/^\d+$/.test(instance)) {
      throw new SupervisorError('ERR_BAD_REQUEST', 'usage: fault ROLE INSTANCE throw|exit|oom|hang');
    }
    sup.fault(role, Number(instance), kind);
    return { injected: kind };
  });
}
