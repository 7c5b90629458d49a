/**
 * cli-reload: `postrider reload`: the daemon re-reads its configuration and
 * replaces every actor; a broken configuration is refused (the old keeps
 * running) and the daemon's one-line reason is the failure.
 */
import { queueDirAt } from './cli-config-dir.js';
import { CliError } from './cli-error.js';
import { controlRequest } from './control-client.js';

export async function reload(dir: string): Promise<void> {
  const queueDir = queueDirAt(dir);
  try {
    await controlRequest(queueDir, 'reload');
  } catch (err) {
    throw new CliError((err as Error).message);
  }
  process.stdout.write('postrider: refreshing the Postrider mail system\n');
}
