/**
 * cli-start: `postrider start`: runs start-fg detached (its own process
 * group, output to maillog_file, or with maillog_file empty to syslog
 * through syslog_socket; a warning says so when that socket is missing and
 * the lines are lost) and returns once the control
 * socket reports every actor ready. Fails with the reason when the
 * configuration has errors, a daemon already runs (daemon-liveness: a pid
 * file naming a zombie or a reused pid is no obstacle), the daemon exits during
 * start-up, or it is not ready within 30 s.
 */
import { spawn } from 'node:child_process';
import { closeSync, existsSync, mkdtempSync, openSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { MainConfig } from '../config/main-config.js';
import { syslogTargetOf } from '../config/syslog-target.js';
import { LOG_MODE_ENV } from '../util/log.js';
import { daemonLiveness } from '../supervisor/daemon-liveness.js';
import { loadStartable, queueDirOf } from './cli-config-dir.js';
import { CliError } from './cli-error.js';
import { controlRequest } from './control-client.js';

const MAIN = fileURLToPath(new URL('./main.js', import.meta.url));

export async function start(dir: string, opts: { timeoutMs?: number; extraArgs?: string[] } = {}): Promise<void> {
  const loaded = loadStartable(dir);
  const queueDir = queueDirOf(loaded);
  // The same answer start-fg and status act on; start-fg asks again, so two racing starts cannot both run.
  const live = await daemonLiveness(queueDir);
  if (live.running) throw new CliError(`the Postrider mail system is already running (pid ${live.pid})`);

  const mainCfg = new MainConfig(loaded.params, loaded.dir);
  const logFile = mainCfg.path('maillog_file');
  if (!logFile) {
    const { socket } = syslogTargetOf(mainCfg);
    if (!existsSync(socket)) {
      process.stderr.write(`postrider: warning: maillog_file is empty and the syslog socket ${socket} does not exist: log lines are discarded; set maillog_file\n`);
    }
  }
  // Without a log file, the daemon's standard error goes to a scratch file that is
  // read if it dies during start-up, and removed once it serves.
  const scratch = logFile ? undefined : join(mkdtempSync(join(tmpdir(), 'postrider-start-')), 'stderr');
  const out = openSync(logFile || '/dev/null', 'a');
  const err = scratch ? openSync(scratch, 'a') : out;
  const child = spawn(process.execPath, [MAIN, '-c', dir, ...(opts.extraArgs ?? []), 'start-fg'], {
    detached: true,
    stdio: ['ignore', out, err],
    env: logFile ? process.env : { ...process.env, [LOG_MODE_ENV]: 'syslog' },
  });
  closeSync(out);
  if (err !== out) closeSync(err);
  const forget = (): void => {
    if (scratch) rmSync(dirname(scratch), { recursive: true, force: true });
  };
  let exited: number | null | undefined;
  child.on('exit', (code, signal) => {
    exited = code ?? (signal ? 128 : 1);
  });
  child.unref();

  const deadline = Date.now() + (opts.timeoutMs ?? 30_000);
  let last = 'no answer on the control socket';
  while (Date.now() < deadline) {
    if (exited !== undefined) {
      const reason = lastFatal(scratch ?? logFile);
      forget();
      throw new CliError(reason ?? `the mail system exited with status ${exited} during start-up${logFile ? `; see ${logFile}` : ''}`);
    }
    try {
      const st = (await controlRequest(queueDir, 'status', [], undefined, { timeoutMs: 2000 })) as { ready?: boolean; pid?: number };
      if (st.ready && st.pid === child.pid) {
        forget();
        return;
      }
      last = st.pid === child.pid ? 'actors not ready' : `another daemon answers (pid ${st.pid})`;
    } catch (err) {
      last = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  forget();
  throw new CliError(`the mail system did not start in ${Math.round((opts.timeoutMs ?? 30_000) / 1000)} s: ${last}`);
}

/** The reason in the last "fatal:" line a failed daemon wrote, if any. */
function lastFatal(file: string): string | undefined {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return undefined;
  }
  const lines = text.split('\n').filter((l) => /\bfatal: /.test(l));
  const last = lines[lines.length - 1];
  return last ? last.slice(last.indexOf('fatal: ') + 7) : undefined;
}
