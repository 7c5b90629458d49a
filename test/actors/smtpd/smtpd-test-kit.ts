/**
 * smtpd-test-kit: starts a real Smtpd on 127.0.0.1 port 0 with a given
 * main.cf record, collects submissions in memory (and can be told to fail),
 * captures log lines, and offers a raw line-oriented socket client for
 * protocol abuse. Not a test file itself.
 */
import { mkdtempSync } from 'node:fs';
import { readFile, unlink } from 'node:fs/promises';
import { connect, type Socket } from 'node:net';
import assert from 'node:assert/strict';
import { connect as tlsConnect, type TLSSocket } from 'node:tls';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import SMTPConnection, { type SMTPConnectionOptions, type SMTPConnectionSendInfo, type SMTPEnvelope } from 'nodemailer/lib/smtp-connection';
import type { MasterService } from '../../../src/config/config-types.js';
import { MainConfig } from '../../../src/config/main-config.js';
import { configureLogging, Logger, type LogSink } from '../../../src/util/log.js';
import { Smtpd, type SmtpdSubmission, type SubmitResult } from '../../../src/actors/smtpd/smtpd.js';
import type { Anvil } from '../../../src/actors/smtpd/smtpd-anvil.js';
import { waitFor } from '../../helpers/send-mail.js';

export const logLines: string[] = [];
const sink: LogSink = {
  write: (line) => {
    logLines.push(line);
  },
  flush: () => undefined,
  reopen: () => undefined,
};
configureLogging({ sink, myhostname: 'mx.test.example' });

export interface Harness {
  smtpd: Smtpd;
  port: number;
  dir: string;
  submissions: SmtpdSubmission[];
  /** Set to make the next submissions fail with this result (or throw when 'throw'). */
  failWith?: SubmitResult | 'throw';
  /** Set to make submissions wait for this promise first (a message that is slow to be queued). */
  hold?: Promise<void>;
  /** Submissions that have waited on `hold` so far. */
  held: number;
  /** Submissions that arrived in a spool file (past message_spool_threshold). */
  spooled: number;
  stop(): Promise<void>;
}

export function service(name = '127.0.0.1:0'): MasterService {
  return {
    name,
    type: 'inet',
    private: false,
    unpriv: true,
    chroot: false,
    wakeup: '-',
    maxproc: null,
    command: 'smtpd',
    args: [],
    overrides: {},
    file: 'master.cf',
    line: 1,
  };
}

export async function startSmtpd(
  params: Record<string, string> = {},
  dir = mkdtempSync(join(tmpdir(), 'smtpd-test-')),
  opts: { anvil?: Anvil } = {},
): Promise<Harness> {
  const config = new MainConfig(
    {
      myhostname: 'mx.test.example',
      mydomain: 'test.example',
      mydestination: 'mx.test.example, localhost',
      mynetworks: '127.0.0.0/8',
      // Every local recipient is accepted unless a test sets local_recipient_maps.
      local_transport: 'discard',
      local_recipient_maps: '',
      smtpd_greet_wait: '0s',
      smtpd_error_sleep_time: '0s',
      ...params,
    },
    dir,
  );
  const h: Harness = {
    smtpd: undefined as unknown as Smtpd,
    port: 0,
    dir,
    submissions: [],
    held: 0,
    spooled: 0,
    stop: async () => {
      await h.smtpd.close();
    },
  };
  h.smtpd = new Smtpd({
    config,
    service: service(),
    log: new Logger('smtpd', 1),
    anvil: opts.anvil,
    idSalt: 0,
    submit: async (s) => {
      if (h.hold) {
        h.held++;
        await h.hold;
      }
      if (h.failWith === 'throw') throw new Error('store exploded');
      if (h.failWith) return h.failWith;
      // A message past message_spool_threshold: read back from its spool file, as cleanup would.
      if (s.spooled) {
        h.spooled++;
        s.content = await readFile(s.spooled.path);
        await unlink(s.spooled.path);
      }
      h.submissions.push(s);
      return { ok: true, queueId: s.queueId };
    },
  });
  const bound = await h.smtpd.listen();
  h.port = bound.port;
  return h;
}

/** A raw SMTP client: send bytes, read reply lines. */
export class RawClient {
  private buffer = '';
  private waiters: Array<() => void> = [];
  closed = false;
  readonly socket: Socket;

  private constructor(socket: Socket) {
    this.socket = socket;
    socket.setEncoding('latin1');
    socket.on('data', (d: string) => {
      this.buffer += d;
      this.wake();
    });
    socket.on('error', () => undefined);
    socket.on('close', () => {
      this.closed = true;
      this.wake();
    });
  }

  static open(port: number, host = '127.0.0.1', localAddress?: string): Promise<RawClient> {
    return new Promise((resolve, reject) => {
      const s = connect({ port, host, localAddress }, () => resolve(new RawClient(s)));
      s.once('error', reject);
    });
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }

  send(data: string | Buffer): void {
    if (!this.socket.destroyed) this.socket.write(data);
  }

  /** Reads one complete (possibly multi-line) reply; undefined when the server closed first. */
  async reply(timeoutMs = 10000): Promise<string | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const m = /^(?:\d{3}-[^\n]*\n)*\d{3}(?: [^\n]*)?\r?\n/.exec(this.buffer);
      if (m) {
        this.buffer = this.buffer.slice(m[0].length);
        return m[0].replace(/\r?\n$/, '');
      }
      if (this.closed) return undefined;
      if (Date.now() > deadline) throw new Error(`no reply; buffer: ${JSON.stringify(this.buffer)}`);
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 100);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
  }

  /** Sends a line (CRLF added) and returns the reply. */
  async cmd(line: string): Promise<string | undefined> {
    this.send(line + '\r\n');
    return this.reply();
  }

  /** Waits for the server to close the connection. */
  async closedByServer(timeoutMs = 10000): Promise<boolean> {
    const deadline = Date.now() + timeoutMs;
    while (!this.closed && Date.now() < deadline) {
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, 100);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.closed;
  }

  close(): void {
    this.socket.destroy();
  }
}

/** Opens a raw session up to a completed EHLO. */
export async function ehloSession(port: number, helo = 'client.test.example'): Promise<RawClient> {
  const c = await RawClient.open(port);
  const greeting = await c.reply();
  if (!greeting?.startsWith('220 ')) throw new Error(`bad greeting ${greeting}`);
  const ehlo = await c.cmd(`EHLO ${helo}`);
  if (!ehlo?.startsWith('250')) throw new Error(`bad EHLO reply ${ehlo}`);
  return c;
}

export interface SendOptions {
  from: string;
  to: string[];
  body: string | Buffer;
  secure?: boolean;
  auth?: { user: string; pass: string; method?: string };
  dsn?: { ret?: 'FULL' | 'HDRS'; envid?: string; notify?: string[]; orcpt?: string };
  use8BitMime?: boolean;
  ignoreTLS?: boolean;
  requireTLS?: boolean;
  ca?: Buffer;
}

/** Sends one message with nodemailer's SMTP client; resolves with the final response or rejects with the error. */
export async function sendMail(port: number, opts: SendOptions): Promise<string> {
  const conn = new SMTPConnection({
    port,
    host: '127.0.0.1',
    name: 'client.test.example',
    ignoreTLS: opts.ignoreTLS ?? true,
    requireTLS: opts.requireTLS ?? false,
    tls: opts.ca ? { ca: opts.ca, servername: 'localhost' } : { rejectUnauthorized: false },
    connectionTimeout: 10000,
    greetingTimeout: 10000,
    socketTimeout: 20000,
  } as SMTPConnectionOptions);
  conn.on('error', () => undefined);
  try {
    await new Promise<void>((resolve, reject) => conn.connect((err?: Error) => (err ? reject(err) : resolve())));
    if (opts.auth) {
      await new Promise<void>((resolve, reject) =>
        conn.login({ user: opts.auth!.user, pass: opts.auth!.pass, method: opts.auth!.method }, (err?: Error | null) => (err ? reject(err) : resolve())),
      );
    }
    const envelope: SMTPEnvelope = { from: opts.from, to: opts.to, dsn: opts.dsn, use8BitMime: opts.use8BitMime };
    const info = await new Promise<SMTPConnectionSendInfo>((resolve, reject) =>
      conn.send(envelope, opts.body, (err, i) => (err || !i ? reject(err) : resolve(i))),
    );
    conn.quit();
    return info.response;
  } finally {
    conn.close();
  }
}

/** Waits until `pred` holds or times out (polling; no timing assertion). */
export function until(pred: () => boolean, timeoutMs = 5000): Promise<void> {
  return waitFor(pred, timeoutMs);
}

/** Upgrades a raw session with STARTTLS and returns a line reader over TLS. */
export async function starttls(port: number, ca: Buffer): Promise<{ cmd: (l: string) => Promise<string>; close: () => void; socket: TLSSocket }> {
  const c = await ehloSession(port);
  assert.equal(await c.cmd('STARTTLS'), '220 2.0.0 Ready to start TLS');
  const socket = tlsConnect({ socket: c.socket, ca, servername: 'localhost' });
  await new Promise<void>((resolve, reject) => {
    socket.once('secureConnect', () => resolve());
    socket.once('error', reject);
  });
  socket.on('error', () => undefined);
  let buffer = '';
  let wake: (() => void) | undefined;
  socket.setEncoding('latin1');
  socket.on('data', (d: string) => {
    buffer += d;
    wake?.();
  });
  const reply = async (): Promise<string> => {
    for (;;) {
      const m = /^(?:\d{3}-[^\n]*\n)*\d{3}(?: [^\n]*)?\r?\n/.exec(buffer);
      if (m) {
        buffer = buffer.slice(m[0].length);
        return m[0].replace(/\r?\n$/, '');
      }
      await new Promise<void>((r) => {
        wake = r;
        setTimeout(r, 200);
      });
    }
  };
  return {
    cmd: async (l: string) => {
      socket.write(l + '\r\n');
      return reply();
    },
    close: () => socket.destroy(),
    socket,
  };
}
