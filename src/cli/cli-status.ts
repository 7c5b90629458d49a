/**
 * cli-status: `postrider status [--json]`: exit 0 and "the Postrider mail
 * system is running: PID: N" (or the status JSON) when the daemon answers;
 * exit 1 and "not running" on standard error when it does not.
 */
import { queueDirAt } from './cli-config-dir.js';
import { controlRequest } from './control-client.js';

/** Returns the exit status. */
export async function status(dir: string, opts: { json?: boolean } = {}): Promise<number> {
  const queueDir = queueDirAt(dir);
  let st: { pid: number };
  try {
    st = (await controlRequest(queueDir, 'status', [], undefined, { timeoutMs: 10_000 })) as { pid: number };
  } catch (err) {
    const code = (err as { code?: string }).code;
    process.stderr.write(code === 'ERR_NOT_RUNNING' ? 'postrider: the Postrider mail system is not running\n' : `postrider: fatal: ${(err as Error).message}\n`);
    return 1;
  }
  if (opts.json) process.stdout.write(JSON.stringify(st) + '\n');
  else process.stdout.write(`postrider: the Postrider mail system is running: PID: ${st.pid}\n`);
  return 0;
}
