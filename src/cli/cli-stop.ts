/**
 * cli-stop: `postrider stop`: asks the daemon to stop over the control
 * socket and returns once its process has exited (pid gone). Fails when
 * the daemon is not running or does not exit in time.
 */
import { isRunningProcess, pidFilePath, readPidFile } from '../supervisor/pid-file.js';
import { queueDirAt } from './cli-config-dir.js';
import { CliError } from './cli-error.js';
import { controlRequest } from './control-client.js';

export async function stop(dir: string, opts: { timeoutMs?: number } = {}): Promise<void> {
  const queueDir = queueDirAt(dir);
  const pid = readPidFile(pidFilePath(queueDir));
  const st = (await controlRequest(queueDir, 'status').catch((err: Error) => {
    throw new CliError(err.message);
  })) as { pid: number };
  await controlRequest(queueDir, 'stop');
  const target = st.pid ?? pid;
  const deadline = Date.now() + (opts.timeoutMs ?? 120_000);
  // a zombie has exited: kill -0 would wait for its parent to reap it
  while (isRunningProcess(target)) {
    if (Date.now() > deadline) throw new CliError(`the mail system (pid ${target}) did not exit in time`);
    await new Promise((r) => setTimeout(r, 50));
  }
  process.stdout.write('postrider: stopping the Postrider mail system\n');
}
