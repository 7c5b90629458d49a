/**
 * sink-handle: what both test sinks (smtp-sink, smtp-chunking-sink) do once
 * their server is made: bind it on loopback (or opts' address) and give the
 * SmtpSink handle over their bookkeeping.
 */
import type { Server, Socket } from 'node:net';
import type { SinkMessage, SmtpSink, SmtpSinkOptions } from './smtp-sink.js';

export interface SinkBook {
  messages: SinkMessage[];
  sockets: Set<Socket>;
  wire: Buffer[];
  connections(): number;
  maxConcurrent(): number;
  /** The most mail transactions (MAIL accepted, DATA not yet answered) at once; only the smtp-server sink counts them. */
  maxTransactions?(): number;
}

/**
 * @param listen binds the server (SMTPServer's listen or net.Server's)
 * @param net the listening socket server, for its errors and address
 * @param close closes the server
 */
export async function listenSink(
  listen: (port: number, host: string, cb: () => void) => void,
  net: Server,
  close: (cb: () => void) => void,
  opts: SmtpSinkOptions,
  book: SinkBook,
): Promise<SmtpSink> {
  const host = opts.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    net.once('error', reject);
    listen(opts.port ?? 0, host, () => {
      net.removeListener('error', reject);
      resolve();
    });
  });
  const address = net.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  return {
    host,
    port,
    messages: book.messages,
    get connections() { return book.connections(); },
    get current() { return book.sockets.size; },
    get maxConcurrent() { return book.maxConcurrent(); },
    get maxTransactions() {
      if (!book.maxTransactions) throw new Error('this sink does not count transactions');
      return book.maxTransactions();
    },
    get wire() { return Buffer.concat(book.wire).toString('latin1'); },
    dropConnections() {
      for (const s of book.sockets) s.destroy();
    },
    close: () => new Promise<void>((resolve) => {
      for (const s of book.sockets) s.destroy();
      close(() => resolve());
    }),
  };
}
