/**
 * control-server: the supervisor's Unix socket at
 * $queue_directory/private/control (directory 0700, socket 0600, so the
 * kernel refuses other users). One JSON request per line
 * {"command": "...", "args": [...]}, one JSON reply per line
 * {"ok": true, "result": ...} or {"ok": false, "error": "one-line reason"};
 * a command may first stream {"line": "..."} lines. Malformed or oversized
 * requests get an error reply; nothing a client sends crashes the server.
 */
import { chmodSync, existsSync, unlinkSync } from 'node:fs';
import { createServer, type Server, type Socket } from 'node:net';
import { dirname, join } from 'node:path';
import { makePrivateDirSync, PRIVATE_FILE_MODE } from '../util/private-files.js';

/** Lets a command stream lines before its final reply. */
export interface ControlStream {
  line(text: string): void;
}

export type ControlHandler = (args: string[], stream: ControlStream) => Promise<unknown> | unknown;

/** Longest request line accepted. */
const MAX_REQUEST_BYTES = 64 * 1024;

/** The control socket's path for a queue directory. */
export function controlSocketPath(queueDir: string): string {
  return join(queueDir, 'private', 'control');
}

export class ControlServer {
  private readonly handlers = new Map<string, ControlHandler>();
  private server?: Server;
  private readonly sockets = new Set<Socket>();
  private path?: string;

  /** Adds a command; a later register of the same name replaces it. */
  register(command: string, handler: ControlHandler): void {
    this.handlers.set(command, handler);
  }

  commands(): string[] {
    return [...this.handlers.keys()].sort();
  }

  /** Creates private/ (0700) and listens on private/control (0600); a stale socket file is replaced. */
  async listen(queueDir: string): Promise<string> {
    const path = controlSocketPath(queueDir);
    const dir = dirname(path);
    makePrivateDirSync(dir);
    // The caller holds the pid file, so a socket left here is from a dead daemon.
    if (existsSync(path)) unlinkSync(path);
    const server = createServer((socket) => this.accept(socket));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(path, () => {
        server.off('error', reject);
        resolve();
      });
    });
    chmodSync(path, PRIVATE_FILE_MODE);
    server.on('error', () => {
      // a failed accept must not take the daemon down
    });
    this.server = server;
    this.path = path;
    return path;
  }

  /** Stops listening, ends open connections, removes the socket file. */
  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    for (const s of this.sockets) s.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    if (this.path && existsSync(this.path)) {
      try {
        unlinkSync(this.path);
      } catch {
        // gone already
      }
    }
  }

  private accept(socket: Socket): void {
    this.sockets.add(socket);
    socket.on('close', () => this.sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setEncoding('utf8');
    let buffer = '';
    let chain = Promise.resolve();
    socket.on('data', (chunk: string) => {
      buffer += chunk;
      if (buffer.length > MAX_REQUEST_BYTES && !buffer.includes('\n')) {
        write(socket, { ok: false, error: 'request too long' });
        socket.end();
        buffer = '';
        return;
      }
      let nl: number;
      while ((nl = buffer.indexOf('\n')) >= 0) {
        const line = buffer.slice(0, nl).trim();
        buffer = buffer.slice(nl + 1);
        if (!line) continue;
        // Requests on one connection are answered in order.
        chain = chain.then(() => this.run(socket, line));
      }
    });
  }

  private async run(socket: Socket, line: string): Promise<void> {
    let req: { command?: unknown; args?: unknown };
    try {
      req = JSON.parse(line) as typeof req;
    } catch {
      write(socket, { ok: false, error: 'malformed request: not JSON' });
      return;
    }
    if (!req || typeof req.command !== 'string') {
      write(socket, { ok: false, error: 'malformed request: no command' });
      return;
    }
    const args = Array.isArray(req.args) ? req.args.map(String) : [];
    const handler = this.handlers.get(req.command);
    if (!handler) {
      write(socket, { ok: false, error: `unknown command: ${req.command.slice(0, 64)}` });
      return;
    }
    try {
      const result = await handler(args, { line: (text) => write(socket, { line: text }) });
      write(socket, { ok: true, result: result === undefined ? null : result });
    } catch (err) {
      const message = (err as Error)?.message ?? String(err);
      write(socket, { ok: false, error: message.split('\n')[0] });
    }
  }
}

function write(socket: Socket, value: unknown): void {
  if (!socket.destroyed && socket.writable) socket.write(JSON.stringify(value) + '\n');
}
