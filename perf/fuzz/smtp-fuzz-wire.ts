/**
 * smtp-fuzz-wire: the socket side of a fuzzed session. Bytes in go to a
 * ReplyReader; the client waits for a number of replies, for quiet, or for
 * the server to close, each with a bound; a STARTTLS upgrade hands the
 * socket to TLS and reads on through it. It notes who closed first (the
 * server, or the client's own end). Never throws: socket errors become the
 * close reason.
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { ReplyReader } from './smtp-fuzz-reply.js';

/** The socket side of a case: bytes in, replies counted, close noticed. */
export class Wire {
  readonly reader = new ReplyReader();
  closed = false;
  /** The server closed first (not the client's own end). */
  serverClosed = false;
  private clientEnded = false;
  closeReason = '';
  private sock: Socket | TLSSocket;
  private wake: (() => void) | undefined;
  private lastInput = Date.now();

  constructor(sock: Socket) {
    this.sock = sock;
    this.attach(sock);
  }

  private attach(sock: Socket | TLSSocket): void {
    sock.on('data', this.onData);
    sock.on('error', this.onError);
    sock.on('close', this.onClose);
  }

  private readonly onData = (chunk: Buffer): void => {
    this.lastInput = Date.now();
    this.reader.feed(chunk);
    this.wake?.();
  };
  private readonly onError = (err: Error): void => {
    this.closeReason ||= err.message;
  };
  private readonly onClose = (): void => {
    if (!this.clientEnded) this.serverClosed = true;
    this.closed = true;
    this.reader.end();
    this.wake?.();
  };

  get socket(): Socket | TLSSocket {
    return this.sock;
  }

  /** Writes; resolves once the bytes are handed to the kernel (or the socket is gone). */
  write(data: Buffer): Promise<void> {
    if (this.closed || this.sock.destroyed || data.length === 0) return Promise.resolve();
    return new Promise((resolve) => {
      try {
        this.sock.write(data, () => resolve());
      } catch {
        resolve();
      }
    });
  }

  /** Waits until `n` replies are available, the socket closed, or `ms` passed. */
  async replies(n: number, ms: number): Promise<'ok' | 'closed' | 'timeout'> {
    const deadline = Date.now() + ms;
    for (;;) {
      if (this.reader.available >= n) return 'ok';
      if (this.closed) return 'closed';
      const left = deadline - Date.now();
      if (left <= 0) return 'timeout';
      await this.until(left);
    }
  }

  /** Waits until nothing arrived for `quietMs` (or the socket closed), at most `ms`. */
  async quiet(quietMs: number, ms: number): Promise<void> {
    const deadline = Date.now() + ms;
    this.lastInput = Math.max(this.lastInput, Date.now());
    while (!this.closed && Date.now() < deadline) {
      const idle = Date.now() - this.lastInput;
      if (idle >= quietMs) return;
      await this.until(Math.min(quietMs - idle, deadline - Date.now()));
    }
  }

  /** Waits for the server to close, at most `ms`; true when it did. */
  async closes(ms: number): Promise<boolean> {
    const deadline = Date.now() + ms;
    while (!this.closed && Date.now() < deadline) await this.until(deadline - Date.now());
    return this.closed;
  }

  private until(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const t = setTimeout(done, Math.max(1, ms));
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.wake = () => {
        this.wake = undefined;
        done();
      };
    });
  }

  /** Hands the socket to TLS; resolves undefined when the handshake completes, else the error. */
  upgrade(ms: number): Promise<string | undefined> {
    const raw = this.sock;
    raw.off('data', this.onData);
    raw.off('close', this.onClose);
    return new Promise((resolve) => {
      const secure = tlsConnect({ socket: raw as Socket, rejectUnauthorized: false, servername: 'localhost' });
      const timer = setTimeout(() => fail(new Error('handshake timeout')), ms);
      const fail = (err: Error): void => {
        clearTimeout(timer);
        this.clientEnded = true;
        secure.destroy();
        raw.destroy();
        this.closed = true;
        resolve(err.message);
      };
      secure.once('error', fail);
      secure.once('secureConnect', () => {
        clearTimeout(timer);
        secure.off('error', fail);
        this.sock = secure;
        this.reader.resume();
        this.attach(secure);
        resolve(undefined);
      });
    });
  }

  end(how: 'close' | 'reset' | 'half-close'): void {
    if (this.sock.destroyed) return;
    this.clientEnded = true;
    if (how === 'reset' && 'resetAndDestroy' in this.sock && !(this.sock as TLSSocket).encrypted) (this.sock as Socket).resetAndDestroy();
    else if (how === 'half-close') this.sock.end();
    else this.sock.destroy();
  }

  destroy(): void {
    this.clientEnded = true;
    this.sock.destroy();
  }
}

/** Opens a TCP connection (no Nagle); rejects with the socket error. */
export function openSocket(host: string, port: number, ms: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = netConnect({ host, port });
    const timer = setTimeout(() => {
      sock.destroy();
      reject(new Error('connect timeout'));
    }, ms);
    sock.once('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
    sock.once('connect', () => {
      clearTimeout(timer);
      sock.removeAllListeners('error');
      sock.setNoDelay(true);
      resolve(sock);
    });
  });
}
