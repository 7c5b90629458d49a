/**
 * smtp-line-session: a raw SMTP client for tests that must send exactly the
 * bytes they choose (BDAT chunks, bare LF, dot lines): open() reads the
 * greeting and says EHLO (expecting CHUNKING), command() sends a line and
 * returns the reply (multi-line replies joined), send() writes bytes as
 * they are. A reply not complete within 30 s throws, naming what came.
 */
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';

/** A line-reply client over a raw socket. */
export class Session {
  private buffer = '';
  private wake?: () => void;
  private constructor(private readonly socket: Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buffer += d;
      this.wake?.();
    });
    socket.on('error', () => undefined);
  }

  static async open(port: number): Promise<Session> {
    const s = new Session(connect({ port, host: '127.0.0.1' }));
    assert.match(await s.reply(), /^220 /);
    assert.match(await s.command('EHLO client.test'), /CHUNKING/);
    return s;
  }

  send(data: string | Buffer): void {
    this.socket.write(data);
  }

  async reply(): Promise<string> {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const m = /^(?:\d{3}-[^\n]*\n)*\d{3}(?: [^\n]*)?\r\n/.exec(this.buffer);
      if (m) {
        this.buffer = this.buffer.slice(m[0].length);
        return m[0].trimEnd();
      }
      if (Date.now() > deadline) throw new Error(`no reply; buffer: ${JSON.stringify(this.buffer)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 500);
        this.wake = () => {
          clearTimeout(t);
          resolve();
        };
      });
    }
  }

  async command(line: string): Promise<string> {
    this.send(line + '\r\n');
    return this.reply();
  }

  close(): void {
    this.socket.end('QUIT\r\n');
  }
}
