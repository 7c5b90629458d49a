/**
 * smtp-sink: a scriptable SMTP server on loopback for tests (smtp-server
 * underneath). It records every message (envelope with DSN parameters, raw
 * bytes, session number), counts connections (total, current, the most at
 * once), can offer or hide STARTTLS (with a self-signed test certificate),
 * DSN, 8BITMIME, SMTPUTF8, PIPELINING, SIZE, REQUIRETLS (over TLS), and
 * answers MAIL, RCPT and the end of DATA as the test says. Client resets and bad input never take it
 * down. Note: smtp-server waits about 100 ms before its greeting.
 * With `chunking` or `binaryMime` set, the sink is smtp-chunking-sink.ts
 * (smtp-server has no BDAT): same options (no STARTTLS) and records, plus
 * each message's BDAT chunks (`bdat`).
 *
 *   const sink = await startSmtpSink({
 *     rcpt: (addr) => addr.startsWith('nobody@') ? { code: 550, message: '5.1.1 <' + addr + '>: Recipient address rejected' } : null,
 *   });
 *   nexthop: `[${sink.host}]:${sink.port}`
 *   sink.messages[0].raw, sink.messages[0].rcptTo, sink.connections, sink.maxConcurrent
 *   await sink.close();
 */
import { SMTPServer, type SMTPServerAddress, type SMTPServerSession } from 'smtp-server';
import type { Socket } from 'node:net';
import { makeTestCert, type TestCert } from './tls-cert.js';
import { startChunkingSink } from './smtp-chunking-sink.js';
import { listenSink } from './sink-handle.js';

/** An SMTP reply a test wants the sink to give. */
export interface SinkReply {
  code: number;
  /** Reply text, usually starting with an enhanced status code ("5.1.1 ..."). */
  message: string;
}

/** One message the sink accepted (or refused at the end of DATA). */
export interface SinkMessage {
  mailFrom: string;
  rcptTo: string[];
  /** MAIL FROM parameters as received (upper-case keys), e.g. { BODY: '8BITMIME', RET: 'HDRS' }. */
  mailParams: Record<string, string | boolean>;
  /** RCPT TO parameters per recipient, in order. */
  rcptParams: Array<Record<string, string | boolean>>;
  /** The message bytes exactly as received, dot-unstuffed, without the final ".". */
  raw: Buffer;
  /** 1-based number of the connection that carried it. */
  session: number;
  /** The client's EHLO/HELO name. */
  helo: string;
  secure: boolean;
  /** The client's address as the sink saw it. */
  clientAddress: string;
  /** True when the DATA answer was a refusal (the message is recorded anyway). */
  refused: boolean;
  /** The BDAT chunks that carried the message (size and LAST flag), in order; undefined when it came with DATA. */
  bdat?: Array<{ size: number; last: boolean }>;
}

export interface SmtpSinkOptions {
  /** Listen address (default 127.0.0.1; any 127.x.y.z works on Linux, for several MX hosts on one port). */
  host?: string;
  /** Listen port (default 0: a free port). */
  port?: number;
  /** Offer STARTTLS (a test certificate for "localhost" / 127.0.0.1 is made). Default false. */
  starttls?: boolean;
  /** Certificate to use instead of a fresh one. */
  cert?: TestCert;
  /** Extra TLS options for the server side (e.g. { maxVersion: 'TLSv1.1' } to make handshakes fail). */
  tlsOptions?: Record<string, unknown>;
  /** Offer DSN (default true), 8BITMIME (default true), SMTPUTF8 (default true), PIPELINING (default true). */
  dsn?: boolean;
  eightBitMime?: boolean;
  smtputf8?: boolean;
  pipelining?: boolean;
  /** Offer REQUIRETLS (RFC 8689) in TLS sessions (default false); MAIL FROM REQUIRETLS is then recorded in mailParams. */
  requireTls?: boolean;
  /** Offer CHUNKING (BDAT) / BINARYMIME (default false): the sink is then smtp-chunking-sink.ts. */
  chunking?: boolean;
  binaryMime?: boolean;
  /** Announce SIZE with this limit (0 = no SIZE). */
  size?: number;
  /** Answer to MAIL FROM; null/undefined accepts. */
  mail?: (from: string) => SinkReply | null | undefined;
  /** Answer per recipient; null/undefined accepts. */
  rcpt?: (to: string) => SinkReply | null | undefined;
  /** Answer at the end of DATA; null/undefined accepts with "250 2.0.0 Ok: queued as SINKn". */
  data?: (message: SinkMessage) => SinkReply | null | undefined;
  /** Refuse whole connections with this greeting reply. */
  greeting?: SinkReply;
  /** Wait this long before answering the end of DATA (sessions then overlap). */
  dataDelayMs?: number;
}

export interface SmtpSink {
  host: string;
  port: number;
  messages: SinkMessage[];
  /** Connections accepted so far. */
  readonly connections: number;
  /** Connections open now. */
  readonly current: number;
  /** The most connections open at once (idle cached sessions count too). */
  readonly maxConcurrent: number;
  /** The most mail transactions in flight at once: deliveries in parallel, which a destination concurrency limit bounds. */
  readonly maxTransactions: number;
  /** Every byte clients sent, as latin1 text in arrival order (TLS sessions show as cipher text): what went over the wire, before smtp-server parsed it. */
  readonly wire: string;
  /** Drops every open connection (as a server idle timeout would), leaving the listener up. */
  dropConnections(): void;
  close(): Promise<void>;
}

function replyError(r: SinkReply): Error & { responseCode: number } {
  return Object.assign(new Error(r.message), { responseCode: r.code });
}

/** Starts a sink (by default on 127.0.0.1 with a free port). */
export async function startSmtpSink(opts: SmtpSinkOptions = {}): Promise<SmtpSink> {
  if (opts.chunking || opts.binaryMime) return startChunkingSink(opts);
  const messages: SinkMessage[] = [];
  const wire: Buffer[] = [];
  const sockets = new Set<Socket>();
  const sessionNumbers = new Map<string, number>();
  let connections = 0;
  let maxConcurrent = 0;
  // Sessions between an accepted MAIL and the answer to their DATA (or their close).
  const inTransaction = new Set<string>();
  let maxTransactions = 0;
  const cert = opts.starttls ? (opts.cert ?? makeTestCert('localhost')) : undefined;

  const server = new SMTPServer({
    ...(opts.tlsOptions ?? {}),
    name: 'sink.test',
    banner: 'sink ESMTP',
    logger: false,
    disableReverseLookup: true,
    authOptional: true,
    disabledCommands: opts.starttls ? ['AUTH'] : ['AUTH', 'STARTTLS'],
    hideSTARTTLS: !opts.starttls,
    hideDSN: opts.dsn === false,
    hide8BITMIME: opts.eightBitMime === false,
    hideSMTPUTF8: opts.smtputf8 === false,
    hidePIPELINING: opts.pipelining === false,
    hideREQUIRETLS: !opts.requireTls,
    size: opts.size || undefined,
    hideSize: !opts.size,
    key: cert?.key,
    cert: cert?.cert,
    onConnect(session: SMTPServerSession, callback: (err?: Error) => void) {
      connections++;
      sessionNumbers.set(session.id, connections);
      if (opts.greeting) return callback(replyError(opts.greeting));
      callback();
    },
    onClose(session: SMTPServerSession) {
      inTransaction.delete(session.id);
    },
    onMailFrom(address: SMTPServerAddress, session: SMTPServerSession, callback: (err?: Error) => void) {
      const r = opts.mail?.(address.address);
      if (!r) {
        inTransaction.add(session.id);
        maxTransactions = Math.max(maxTransactions, inTransaction.size);
      }
      callback(r ? replyError(r) : undefined);
    },
    onRcptTo(address: SMTPServerAddress, _session: SMTPServerSession, callback: (err?: Error) => void) {
      const r = opts.rcpt?.(address.address);
      callback(r ? replyError(r) : undefined);
    },
    onData(stream, session, callback) {
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const env = session.envelope;
        const mailFrom = env.mailFrom ? env.mailFrom.address : '';
        const msg: SinkMessage = {
          mailFrom,
          rcptTo: env.rcptTo.map((r) => r.address),
          mailParams: (env.mailFrom && env.mailFrom.args) || {},
          rcptParams: env.rcptTo.map((r) => r.args || {}),
          raw: Buffer.concat(chunks),
          session: sessionNumbers.get(session.id) ?? 0,
          helo: session.hostNameAppearsAs,
          secure: session.secure,
          clientAddress: session.remoteAddress,
          refused: false,
        };
        const answer = (): void => {
          inTransaction.delete(session.id);
          const r = opts.data?.(msg);
          msg.refused = !!r;
          messages.push(msg);
          if (r) return callback(replyError(r));
          callback(null, `2.0.0 Ok: queued as SINK${messages.length}`);
        };
        if (opts.dataDelayMs) setTimeout(answer, opts.dataDelayMs);
        else answer();
      });
    },
  });
  // A client reset surfaces here; without a listener it would end the test process.
  server.on('error', () => undefined);
  server.server.on('connection', (socket: Socket) => {
    sockets.add(socket);
    maxConcurrent = Math.max(maxConcurrent, sockets.size);
    socket.on('close', () => sockets.delete(socket));
    socket.on('data', (d: Buffer) => wire.push(d));
  });

  const book = { messages, sockets, wire, connections: () => connections, maxConcurrent: () => maxConcurrent, maxTransactions: () => maxTransactions };
  return listenSink((p, h, cb) => server.listen(p, h, cb), server.server, (cb) => server.close(cb), opts, book);
}

/** The notices (null sender) the sink took for `address`, as text. */
export function noticesTo(sink: SmtpSink, address: string, encoding: BufferEncoding = 'latin1'): string[] {
  return sink.messages.filter((m) => m.mailFrom === '' && m.rcptTo.includes(address)).map((m) => m.raw.toString(encoding));
}

/** Sinks a test file starts as it goes and closes together at its end. */
export interface SinkSet {
  start(opts?: SmtpSinkOptions): Promise<SmtpSink>;
  closeAll(): Promise<void>;
}

export function sinkSet(): SinkSet {
  const sinks: SmtpSink[] = [];
  return {
    async start(opts = {}) {
      const s = await startSmtpSink(opts);
      sinks.push(s);
      return s;
    },
    async closeAll() {
      for (const s of sinks.splice(0)) await s.close();
    },
  };
}
