/**
 * load-client: a lean SMTP client for the load harness. It speaks plain
 * SMTP with PIPELINING on one socket, so the harness measures the server
 * rather than a heavy client library.
 */
import { connect, type Socket } from 'node:net';

export class LoadClient {
  private buf = '';
  private waiters: Array<(line: string) => void> = [];

  private constructor(private readonly socket: Socket) {
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buf += d;
      let i: number;
      while ((i = this.buf.indexOf('\r\n')) >= 0) {
        const line = this.buf.slice(0, i);
        this.buf = this.buf.slice(i + 2);
        // Multi-line replies: only the last line ("250 ...") completes a reply.
        if (line.length >= 4 && line[3] === '-') continue;
        this.waiters.shift()?.(line);
      }
    });
    socket.on('error', () => {
      for (const w of this.waiters.splice(0)) w('000 connection error');
    });
    socket.on('close', () => {
      for (const w of this.waiters.splice(0)) w('000 connection closed');
    });
  }

  static async open(port: number, host = '127.0.0.1'): Promise<LoadClient> {
    const socket = connect(port, host);
    socket.setNoDelay(true);
    const c = new LoadClient(socket);
    const greeting = await c.reply();
    if (!greeting.startsWith('220')) throw new Error(`greeting: ${greeting}`);
    await c.command('EHLO load.test', '250');
    return c;
  }

  private reply(): Promise<string> {
    return new Promise((res) => this.waiters.push(res));
  }

  async command(line: string, expect: string): Promise<string> {
    const p = this.reply();
    this.socket.write(line + '\r\n');
    const r = await p;
    if (!r.startsWith(expect)) throw new Error(`${line.split(' ')[0]}: ${r}`);
    return r;
  }

  /**
   * Sends one message with PIPELINING (RFC 2920), as MTAs do: MAIL, RCPT and
   * DATA in one write, then the content; resolves with the final reply.
   */
  async send(from: string, to: string[], body: string): Promise<string> {
    const replies = [this.reply(), ...to.map(() => this.reply()), this.reply()];
    this.socket.write(`MAIL FROM:<${from}>\r\n` + to.map((r) => `RCPT TO:<${r}>\r\n`).join('') + 'DATA\r\n');
    const got = await Promise.all(replies);
    const bad = got.slice(0, -1).find((r) => !r.startsWith('250'));
    if (bad || !got[got.length - 1].startsWith('354')) {
      if (got[got.length - 1].startsWith('354')) await this.command('.', '');
      throw new Error(`envelope: ${bad ?? got[got.length - 1]}`);
    }
    const p = this.reply();
    this.socket.write(body.replace(/^\./gm, '..') + '\r\n.\r\n');
    const r = await p;
    if (!r.startsWith('250')) throw new Error(`DATA: ${r}`);
    return r;
  }

  async quit(): Promise<void> {
    try {
      await this.command('QUIT', '221');
    } catch {
      // The server may close first; that is fine for QUIT.
    }
    this.socket.destroy();
  }
}

export function makeBody(size: number, n: number): string {
  const head = `From: load@client.test\r\nTo: sink@relay.test\r\nSubject: load ${n}\r\nMessage-ID: <load.${n}.${Date.now()}@client.test>\r\n\r\n`;
  const line = 'The quick brown fox jumps over the lazy dog 0123456789 abcdefghijklmnopqrstuvwxyz\r\n';
  let body = '';
  while (head.length + body.length < size) body += line;
  return head + body.slice(0, Math.max(0, size - head.length - 2)) + '\r\n';
}
