/**
 * control-client: one request to the daemon's control socket
 * ($queue_directory/private/control). Streamed {"line"} replies go to
 * onLine; the final reply resolves the result or rejects a ControlError
 * with the daemon's one-line reason (ERR_NOT_RUNNING when nothing listens).
 */
import { connect } from 'node:net';
import { controlSocketPath } from '../supervisor/control-server.js';

export type ControlErrorCode = 'ERR_NOT_RUNNING' | 'ERR_CONTROL_FAILED' | 'ERR_CONTROL_PROTOCOL' | 'ERR_CONTROL_TIMEOUT';

export class ControlError extends Error {
  constructor(
    readonly code: ControlErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'ControlError';
  }
}

/** Sends `command args` and resolves with the result of the final reply. */
export function controlRequest(
  queueDir: string,
  command: string,
  args: string[] = [],
  onLine?: (line: string) => void,
  opts: { timeoutMs?: number } = {},
): Promise<unknown> {
  const path = controlSocketPath(queueDir);
  return new Promise((resolve, reject) => {
    const socket = connect(path);
    let buffer = '';
    let settled = false;
    const finish = (err: Error | undefined, value?: unknown): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      if (err) reject(err);
      else resolve(value);
    };
    const timeoutMs = opts.timeoutMs ?? 60_000;
    const timer = setTimeout(() => finish(new ControlError('ERR_CONTROL_TIMEOUT', `${command}: no reply from the mail system in ${timeoutMs} ms`)), timeoutMs);
    socket.setEncoding('utf8');
    socket.on('connect', () => socket.write(JSON.stringify({ command, args }) + '\n'));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ENOENT' || err.code === 'ECONNREFUSED') {
        finish(new ControlError('ERR_NOT_RUNNING', 'the Postrider mail system is not running'));
      } else {
        finish(new ControlError('ERR_CONTROL_FAILED', `${path}: ${err.message}`));
      }
    });
    socket.on('close', () => finish(new ControlError('ERR_CONTROL_PROTOCOL', `${command}: the mail system closed the connection without a reply`)));
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 1);
        let msg: { ok?: boolean; result?: unknown; error?: string; line?: string };
        try {
          msg = JSON.parse(line) as typeof msg;
        } catch {
          finish(new ControlError('ERR_CONTROL_PROTOCOL', `${command}: unreadable reply from the mail system`));
          return;
        }
        if (typeof msg.line === 'string' && msg.ok === undefined) {
          onLine?.(msg.line);
          continue;
        }
        if (msg.ok === true) finish(undefined, msg.result);
        else finish(new ControlError('ERR_CONTROL_FAILED', msg.error ?? `${command} failed`));
        return;
      }
    });
  });
}
