/**
 * smtp-line-session: a raw SMTP client for tests that must send exactly the
 * bytes they choose (BDAT chunks, bare LF, dot lines): open() reads the
 * greeting and says EHLO (expecting CHUNKING), command() sends a line and
 * returns the reply (multi-line replies joined), send() writes bytes as
 * they are, bdat() sends a message in BDAT chunks and checks each reply.
 * A reply not complete within 30 s throws, naming what came.
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

  /**
   * Sends `content` in BDAT chunks of sizeOf(i, bytes left) bytes, the last
   * one with LAST; asserts "250 2.0.0 Ok: N bytes" to each chunk and the
   * "queued as" reply to the last.
   */
  async bdat(content: Buffer, sizeOf: (i: number, left: number) => number): Promise<void> {
    let at = 0;
    for (let i = 0; ; i++) {
      const size = Math.min(sizeOf(i, content.length - at), content.length - at);
      const last = at + size >= content.length;
      this.send(Buffer.concat([Buffer.from(`BDAT ${size}${last ? ' LAST' : ''}\r\n`), content.subarray(at, at + size)]));
      at += size;
      const r = await this.reply();
      if (last) {
        assert.match(r, new RegExp(`^250 2\\.0\\.0 Ok: ${content.length} bytes queued as \\w+$`));
        return;
      }
      assert.equal(r, `250 2.0.0 Ok: ${size} bytes`);
    }
  }

  close(): void {
    this.socket.end('QUIT\r\n');
  }
}
