/**
 * service-notify: tells systemd (a Type=notify unit) the daemon's state, as
 * sd_notify(3) does: READY=1 with MAINPID and STATUS once every listener
 * accepts, RELOADING=1 (with MONOTONIC_USEC, as Type=notify-reload wants)
 * then READY=1 around a reload, STOPPING=1 when the stop begins.
 *
 * takeNotifySocket(env) reads NOTIFY_SOCKET and removes it from env, so
 * nothing spawned afterwards (worker threads copy the environment when they
 * start; local delivery commands, logger) can speak to systemd in the
 * daemon's name. It returns a ServiceNotifier, or undefined when the
 * variable is unset or empty.
 *
 * The socket is a unix datagram socket, which Node cannot open (node:dgram
 * is UDP only), so each message is one run of systemd's own
 * `systemd-notify`, with the assignments as arguments: it sends them, then a
 * barrier, and returns once systemd has processed the message, which closes
 * the race of a sender gone before systemd looked up whose it is. The unit
 * says NotifyAccess=all, since the sender is that child. Messages are sent
 * one after another, in the order given. A missing `systemd-notify` is one
 * warning line, and nothing more is attempted; a failed run is one warning
 * line; neither is fatal to the daemon.
 */
import { spawn } from 'node:child_process';

export const NOTIFY_SOCKET_ENV = 'NOTIFY_SOCKET';
export const NOTIFY_PROGRAM = 'systemd-notify';

type Warn = (line: string) => void;

/** Removes NOTIFY_SOCKET from env; a notifier for it when it was set. */
export function takeNotifySocket(env: NodeJS.ProcessEnv, warn: Warn, program = NOTIFY_PROGRAM): ServiceNotifier | undefined {
  const socket = env[NOTIFY_SOCKET_ENV];
  delete env[NOTIFY_SOCKET_ENV];
  return socket ? new ServiceNotifier(socket, warn, program) : undefined;
}

/** CLOCK_MONOTONIC in microseconds: libuv's hrtime reads that clock, the one systemd compares MONOTONIC_USEC with. */
function monotonicUsec(): bigint {
  return process.hrtime.bigint() / 1000n;
}

/** One line for STATUS=: no newline may split the message's assignments. */
function statusLine(text: string): string {
  return `STATUS=${text.replace(/\s+/g, ' ').trim()}`;
}

export class ServiceNotifier {
  private chain: Promise<void> = Promise.resolve();
  private unavailable = false;
  private isStopping = false;

  constructor(
    readonly socket: string,
    private readonly warn: Warn,
    private readonly program = NOTIFY_PROGRAM,
  ) {}

  /** The daemon serves: READY=1 with this process as the main one. */
  ready(status: string): void {
    if (this.isStopping) return;
    this.send([`READY=1`, `MAINPID=${process.pid}`, statusLine(status)]);
  }

  /** A reload begins. */
  reloading(status = 'reloading the configuration'): void {
    if (this.isStopping) return;
    this.send([`RELOADING=1`, `MONOTONIC_USEC=${monotonicUsec()}`, statusLine(status)]);
  }

  /** The stop begins; nothing but this is sent afterwards (a reload that ends meanwhile says no READY). */
  stopping(status = 'stopping: draining the work in flight'): void {
    if (this.isStopping) return;
    this.isStopping = true;
    this.send([`STOPPING=1`, statusLine(status)]);
  }

  /** Resolves once every message given so far is sent (or failed), or after timeoutMs. */
  async settled(timeoutMs = 5_000): Promise<void> {
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.chain, new Promise<void>((r) => (timer = setTimeout(r, timeoutMs)))]);
    clearTimeout(timer);
  }

  private send(assignments: string[]): void {
    this.chain = this.chain.then(() => this.run(assignments));
  }

  private run(assignments: string[]): Promise<void> {
    if (this.unavailable) return Promise.resolve();
    return new Promise((resolve) => {
      let stderr = '';
      const child = spawn(this.program, assignments, {
        env: { PATH: process.env.PATH ?? '/usr/bin:/bin', [NOTIFY_SOCKET_ENV]: this.socket },
        stdio: ['ignore', 'ignore', 'pipe'],
      });
      child.stderr.setEncoding('utf8').on('data', (d: string) => (stderr += d));
      let failed = false;
      child.on('error', (err: NodeJS.ErrnoException) => {
        failed = true;
        this.unavailable = true;
        this.warn(
          err.code === 'ENOENT'
            ? `${NOTIFY_SOCKET_ENV} is set but ${this.program} is not installed (Debian package systemd): systemd is not told the daemon's state`
            : `cannot run ${this.program}: ${err.message}; systemd is not told the daemon's state`,
        );
        resolve();
      });
      child.on('close', (code) => {
        if (!failed && code !== 0 && code !== null) this.warn(`${this.program} ${assignments[0]} failed (exit status ${code}): ${stderr.trim().split('\n')[0] || 'no reason given'}`);
        resolve();
      });
    });
  }
}
