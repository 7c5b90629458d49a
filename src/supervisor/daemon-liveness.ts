/**
 * daemon-liveness: the one answer to "does a Postrider daemon run on this
 * queue directory?", shared by `start`, `start-fg` (claimPidFile) and
 * `status`, so they cannot disagree. A daemon runs when the pid file's
 * identity matches its live process (pid-file.ts), or else when something
 * listens on the control socket (a connect succeeds: a dead daemon's socket
 * file refuses connections, and a zombie has closed it). A pid file that
 * names a zombie, a reused pid or nothing is stale and is replaced.
 *
 * Errors: daemonLiveness never rejects; claimPidFile throws SupervisorError
 * ERR_ALREADY_RUNNING naming the running daemon's pid.
 */
import { connect } from 'node:net';
import { controlSocketPath } from './control-server.js';
import { isRunningProcess, pidFileVerdict, pidFilePath, writePidFile } from './pid-file.js';
import { SupervisorError } from './supervisor-error.js';

/** Whether a daemon runs, and how we know. */
export type Liveness =
  | { running: true; pid: number; proof: 'identity' | 'control' }
  | { running: false; stale?: string };

/** How long a control-socket probe waits for the pid after connecting. */
const PROBE_MS = 2000;

/** Decides whether a daemon runs on the queue directory. */
export async function daemonLiveness(queueDir: string): Promise<Liveness> {
  const v = pidFileVerdict(pidFilePath(queueDir));
  if (v.verdict === 'ours') return { running: true, pid: v.pid, proof: 'identity' };
  const probe = await probeControl(queueDir);
  if (probe.listening) {
    // Something serves the control socket; its own pid is the best name for it.
    const pid = probe.pid ?? (v.verdict === 'unproven' ? v.pid : undefined);
    if (pid !== undefined && isRunningProcess(pid)) return { running: true, pid, proof: 'control' };
  }
  if (v.verdict === 'stale') return { running: false, stale: v.reason };
  if (v.verdict === 'unproven') return { running: false, stale: `process ${v.pid} does not serve the control socket` };
  return { running: false };
}

/**
 * Writes this process's pid file unless another daemon runs on the queue
 * directory; a stale file is replaced. A control socket that answers is
 * another supervisor even when it runs in this process (tests start
 * several); this process's own pid in the file is a leftover otherwise.
 */
export async function claimPidFile(queueDir: string): Promise<void> {
  const live = await daemonLiveness(queueDir);
  const other = live.running && (live.pid !== process.pid || live.proof === 'control' || (await probeControl(queueDir)).listening);
  if (other) throw new SupervisorError('ERR_ALREADY_RUNNING', `the Postrider mail system is already running (pid ${live.pid})`);
  writePidFile(pidFilePath(queueDir));
}

/** Connects to the control socket and asks `ping` for the daemon's pid; listening is true once a connection is accepted. */
function probeControl(queueDir: string): Promise<{ listening: boolean; pid?: number }> {
  return new Promise((resolve) => {
    let listening = false;
    let buffer = '';
    const socket = connect(controlSocketPath(queueDir));
    const done = (pid?: number): void => {
      clearTimeout(timer);
      socket.destroy();
      resolve({ listening, pid });
    };
    // A daemon too busy to answer still accepted the connection: it runs.
    const timer = setTimeout(() => done(), PROBE_MS);
    socket.setEncoding('utf8');
    socket.on('connect', () => {
      listening = true;
      socket.write(JSON.stringify({ command: 'ping', args: [] }) + '\n');
    });
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      const nl = buffer.indexOf('\n');
      if (nl < 0) return;
      let pid: number | undefined;
      try {
        const reply = JSON.parse(buffer.slice(0, nl)) as { ok?: boolean; result?: { pid?: unknown } };
        if (reply.ok && Number.isInteger(reply.result?.pid)) pid = reply.result!.pid as number;
      } catch {
        // an unreadable reply still came from a listener
      }
      done(pid);
    });
    socket.on('error', () => done());
    socket.on('close', () => done());
  });
}
