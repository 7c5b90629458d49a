/**
 * cli-status: `postrider status [--json]`: exit 0 and "the Postrider mail
 * system is running: PID: N" (or the status JSON) when a daemon runs on the
 * queue directory, exit 1 and "not running" on standard error when none
 * does. Whether one runs is daemon-liveness's answer, the same one `start`
 * and `start-fg` act on; a running daemon whose control socket does not
 * answer (still starting, or stuck) is reported running, with a warning and,
 * for --json, `ready: false` and the error. Without --json the running line
 * is followed by a table of the threads with their load and CPU seconds
 * (status-format).
 */
import { daemonLiveness } from '../supervisor/daemon-liveness.js';
import { queueDirAt } from './cli-config-dir.js';
import type { SupervisorStatus } from '../supervisor/supervisor-types.js';
import { controlRequest } from './control-client.js';
import { formatStatus } from './status-format.js';

/** Returns the exit status. */
export async function status(dir: string, opts: { json?: boolean } = {}): Promise<number> {
  const queueDir = queueDirAt(dir);
  const live = await daemonLiveness(queueDir);
  if (!live.running) {
    process.stderr.write('postrider: the Postrider mail system is not running\n');
    return 1;
  }
  let st: SupervisorStatus;
  try {
    st = (await controlRequest(queueDir, 'status', [], undefined, { timeoutMs: 10_000 })) as SupervisorStatus;
  } catch (err) {
    const reason = (err as Error).message.split('\n')[0];
    if (opts.json) process.stdout.write(JSON.stringify({ pid: live.pid, ready: false, error: reason }) + '\n');
    else process.stdout.write(`postrider: the Postrider mail system is running: PID: ${live.pid}\n`);
    process.stderr.write(`postrider: warning: the control socket does not answer: ${reason}\n`);
    return 0;
  }
  if (opts.json) process.stdout.write(JSON.stringify(st) + '\n');
  else process.stdout.write(formatStatus(st));
  return 0;
}
