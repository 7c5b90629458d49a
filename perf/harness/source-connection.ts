/**
 * source-connection: one SMTP client connection of the load generator, on a
 * raw socket (no client library: the generator must cost less than what it
 * measures). It reads replies (multi-line ones included) without regular
 * expressions, says EHLO (HELO after a 5xx), upgrades with STARTTLS, and
 * sends a message with PIPELINING when the server offers it.
 *
 * Errors never throw past `open`: a closed socket, a socket error or a
 * reply timeout turns every reply still awaited into "000 reason", and the
 * connection is then `ended`. A 421 also ends it. `open` rejects with a
 * `SourceConnectError` (code ERR_SOURCE_CONNECT) when the TCP connection
 * cannot be made.
 *
 *   const c = await SourceConnection.open('127.0.0.1', port, 60_000);
 *   const hello = await c.hello('source.test');       // greeting + EHLO
 *   const r = await c.sendMessage('a@x', ['b@y'], content);
 *   await c.quit();
 */
import { connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import type { SmtpStage } from './harness-types.js';

/** The TCP connection could not be made; `message` is the socket error. */
export class SourceConnectError extends Error {
  readonly code = 'ERR_SOURCE_CONNECT';
  constructor(message: string) {
    super(message);
    this.name = 'SourceConnectError';
  }
}

/** A refusal or failure in one exchange. */
export interface ExchangeError {
  stage: SmtpStage;
  /** The reply line, or "000 reason" when there was none. */
  reply: string;
}

/** How a message went. */
export interface SendOutcome {
  /** The server answered 2xx after the final dot. */
  accepted: boolean;
  /** The reply after the final dot, when there was one. */
  reply?: string;
  /** Refusals and failures, in order (a refused recipient of several is here even when the message was taken). */
  errors: ExchangeError[];
}

/** What the start of a session gave. */
export interface HelloResult {
  ok: boolean;
  /** When not ok: where it failed and the reply. */
  error?: ExchangeError;
}

/** The content of a message, already dot-stuffed and ending with "\r\n.\r\n": a head string and a shared tail. */
export interface MessageContent {
  head: string;
  tail?: Buffer;
}

/** One client connection; see the file comment. */
export class SourceConnection {
  /** Set once the connection can no longer be used (closed, failed, timed out, 421). */
  ended: string | undefined;
  /** EHLO keywords in upper case (first word of each line after the first). */
  readonly extensions = new Set<string>();
  private sock: Socket;
  private text = '';
  private readonly replies: string[] = [];
  private want = 0;
  /** While an EHLO reply is awaited: keep the keywords of its continuation lines. */
  private collecting = false;
  private wake: (() => void) | undefined;
  private readonly onData = (d: string) => this.receive(d);
  private readonly onFail = (err?: Error) => this.fail(err ? `000 ${err.message}` : '000 connection closed');
  private readonly onClose = () => this.fail('000 connection closed by the server');
  private readonly onTimeout = () => {
    this.fail('000 timeout waiting for a reply');
    this.sock.destroy();
  };

  private constructor(sock: Socket, private readonly timeoutMs: number) {
    this.sock = sock;
    this.attach(sock);
  }

  /** Connects; rejects with SourceConnectError when the connection fails. The greeting is read by `hello`. */
  static open(host: string, port: number, timeoutMs = 60_000): Promise<SourceConnection> {
    return new Promise((resolve, reject) => {
      const sock = netConnect({ host, port });
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new SourceConnectError('connect timeout'));
      }, timeoutMs);
      const onError = (err: Error) => {
        clearTimeout(timer);
        sock.destroy();
        reject(new SourceConnectError(err.message));
      };
      sock.once('error', onError);
      sock.once('connect', () => {
        clearTimeout(timer);
        sock.off('error', onError);
        sock.setNoDelay(true);
        resolve(new SourceConnection(sock, timeoutMs));
      });
    });
  }

  private attach(sock: Socket): void {
    sock.setEncoding('latin1');
    sock.on('data', this.onData);
    sock.on('error', this.onFail);
    sock.on('close', this.onClose);
    sock.setTimeout(this.timeoutMs, this.onTimeout);
  }

  private detach(sock: Socket): void {
    sock.off('data', this.onData);
    sock.off('close', this.onClose);
    sock.setTimeout(0);
    sock.off('timeout', this.onTimeout);
  }

  private receive(d: string): void {
    let text = this.text.length > 0 ? this.text + d : d;
    let start = 0;
    let nl: number;
    while ((nl = text.indexOf('\n', start)) >= 0) {
      // Continuation lines ("250-...") only announce more; the last line completes the reply.
      if (nl - start < 4 || text.charCodeAt(start + 3) !== 45 /* - */) {
        const end = nl > start && text.charCodeAt(nl - 1) === 13 ? nl - 1 : nl;
        this.replies.push(text.slice(start, end));
      } else if (this.collecting) {
        this.extensions.add(keyword(text, start + 4, nl));
      }
      start = nl + 1;
    }
    text = start === 0 ? text : text.slice(start);
    if (text.length > 65_536) {
      this.fail('000 reply line too long');
      this.sock.destroy();
      return;
    }
    this.text = text;
    if (this.wake && this.replies.length >= this.want) this.wake();
  }

  private fail(reason: string): void {
    if (this.ended === undefined) this.ended = reason;
    this.wake?.();
  }

  /** Waits for `n` replies; those that never come are the "000 reason" of the failure. */
  read(n: number): Promise<string[]> {
    return new Promise((resolve) => {
      const done = () => {
        if (this.replies.length < n && this.ended === undefined) return;
        this.wake = undefined;
        const got = this.replies.splice(0, n);
        while (got.length < n) got.push(this.ended!);
        for (const r of got) if (r.charCodeAt(0) === 52 && r.startsWith('421') && this.ended === undefined) this.ended = r;
        resolve(got);
      };
      this.want = n;
      this.wake = done;
      done();
    });
  }

  /** Writes raw protocol text (commands with their CRLFs). */
  write(data: string | Buffer): void {
    if (this.ended === undefined) {
      if (typeof data === 'string') this.sock.write(data, 'latin1');
      else this.sock.write(data);
    }
  }

  /** Sends one command line and reads its reply. */
  async command(line: string): Promise<string> {
    this.write(line + '\r\n');
    return (await this.read(1))[0];
  }

  /** Reads the greeting and says EHLO (HELO when EHLO gets a 5xx); with `starttls`, upgrades and says EHLO again. */
  async hello(name: string, starttls = false): Promise<HelloResult> {
    const greeting = (await this.read(1))[0];
    if (greeting.charCodeAt(0) !== 50 /* 2 */) return { ok: false, error: { stage: 'connect', reply: greeting } };
    let r = await this.ehlo(name);
    if (r.charCodeAt(0) !== 50) return { ok: false, error: { stage: 'helo', reply: r } };
    if (!starttls) return { ok: true };
    r = await this.command('STARTTLS');
    if (r.charCodeAt(0) !== 50) return { ok: false, error: { stage: 'starttls', reply: r } };
    const failure = await this.upgrade();
    if (failure) return { ok: false, error: { stage: 'starttls', reply: failure } };
    r = await this.ehlo(name);
    if (r.charCodeAt(0) !== 50) return { ok: false, error: { stage: 'helo', reply: r } };
    return { ok: true };
  }

  private async ehlo(name: string): Promise<string> {
    this.extensions.clear();
    this.collecting = true;
    const r = await this.command(`EHLO ${name}`);
    this.collecting = false;
    if (r.charCodeAt(0) === 53 /* 5 */) return this.command(`HELO ${name}`);
    // The last line of a multi-line EHLO reply is a keyword too (a one-line reply holds only the name).
    if (r.charCodeAt(0) === 50 && this.extensions.size > 0) this.extensions.add(keyword(r, 4, r.length));
    return r;
  }

  /** Hands the socket to TLS; resolves undefined on success, or "000 reason". */
  private upgrade(): Promise<string | undefined> {
    const raw = this.sock;
    this.detach(raw);
    this.text = '';
    return new Promise((resolve) => {
      // A benchmark, not a trust decision: the certificate is not checked.
      const secure = tlsConnect({ socket: raw, rejectUnauthorized: false });
      const onError = (err: Error) => {
        secure.destroy();
        raw.destroy();
        this.fail(`000 TLS handshake failed: ${err.message}`);
        resolve(this.ended);
      };
      secure.once('error', onError);
      // A server that never finishes the handshake must not hold the session forever.
      const onHandshakeTimeout = () => onError(new Error('timeout'));
      secure.setTimeout(this.timeoutMs, onHandshakeTimeout);
      secure.once('secureConnect', () => {
        secure.off('error', onError);
        secure.setTimeout(0);
        secure.off('timeout', onHandshakeTimeout);
        this.sock = secure;
        this.attach(secure);
        resolve(undefined);
      });
    });
  }

  /** True when the server offered PIPELINING in its last EHLO reply. */
  get pipelining(): boolean {
    return this.extensions.has('PIPELINING');
  }

  /**
   * Sends one message: MAIL, every RCPT and DATA in one write when the server
   * pipelines, else one at a time; then the content after 354. A refused
   * recipient of several leaves the others; no recipient or a refused MAIL
   * gives RSET. Never throws; a failure shows in `errors` and in `ended`.
   */
  async sendMessage(from: string, to: readonly string[], content: MessageContent): Promise<SendOutcome> {
    const errors: ExchangeError[] = [];
    const n = to.length;
    let replies: string[];
    if (this.pipelining) {
      let cmds = `MAIL FROM:<${from}>\r\n`;
      for (let i = 0; i < n; i++) cmds += `RCPT TO:<${to[i]}>\r\n`;
      this.write(cmds + 'DATA\r\n');
      replies = await this.read(n + 2);
    } else {
      replies = [await this.command(`MAIL FROM:<${from}>`)];
      if (replies[0].charCodeAt(0) === 50) {
        // After a failure command() answers at once with the failure, so every slot is filled.
        for (let i = 0; i < n; i++) replies.push(await this.command(`RCPT TO:<${to[i]}>`));
        let good = false;
        for (let i = 1; i <= n; i++) if (replies[i].charCodeAt(0) === 50) good = true;
        replies.push(good ? await this.command('DATA') : '503 DATA not sent');
      }
    }
    const mail = replies[0];
    if (mail.charCodeAt(0) !== 50) {
      errors.push({ stage: 'mail', reply: mail });
      await this.abandon(replies[n + 1]);
      return { accepted: false, errors };
    }
    let good = 0;
    for (let i = 1; i <= n; i++) {
      const r = replies[i];
      if (r.charCodeAt(0) === 50) good++;
      else errors.push({ stage: 'rcpt', reply: r });
    }
    const data = replies[n + 1];
    if (good === 0) {
      await this.abandon(data);
      return { accepted: false, errors };
    }
    if (data.charCodeAt(0) !== 51 /* 3 */) {
      errors.push({ stage: 'data', reply: data });
      await this.abandon(undefined);
      return { accepted: false, errors };
    }
    if (content.tail) {
      this.sock.cork();
      this.write(content.head);
      this.write(content.tail);
      this.sock.uncork();
    } else {
      this.write(content.head);
    }
    const end = (await this.read(1))[0];
    if (end.charCodeAt(0) !== 50) {
      errors.push({ stage: 'dot', reply: end });
      return { accepted: false, reply: end, errors };
    }
    return { accepted: true, reply: end, errors };
  }

  /** After a refused envelope: end a DATA the server took anyway, then RSET. */
  private async abandon(dataReply: string | undefined): Promise<void> {
    if (this.ended !== undefined) return;
    if (dataReply !== undefined && dataReply.charCodeAt(0) === 51) await this.command('.');
    if (this.ended === undefined) await this.command('RSET');
  }

  /** Says QUIT (reply awaited briefly) and closes. */
  async quit(): Promise<void> {
    if (this.ended === undefined) {
      this.write('QUIT\r\n');
      await this.read(1);
    }
    this.close();
  }

  /** Closes at once. */
  close(): void {
    if (this.ended === undefined) this.ended = '000 closed by the client';
    this.sock.destroy();
  }
}

/** The keyword of an EHLO line: text[from..to) up to the first space, in upper case. */
function keyword(text: string, from: number, to: number): string {
  let end = text.indexOf(' ', from);
  if (end < 0 || end > to) end = to;
  if (end > from && text.charCodeAt(end - 1) === 13) end--;
  return text.slice(from, end).toUpperCase();
}
