/**
 * smtp-chunking-sink: the sink of smtp-sink.ts when a test wants CHUNKING
 * (RFC 3030 BDAT) or BINARYMIME offered, which smtp-server cannot do: a
 * small hand-written ESMTP server on loopback with the same options and
 * records (startSmtpSink hands over to it). It reads commands pipelined or
 * not, DATA (dot-unstuffed) and BDAT chunks of any size, records each BDAT
 * chunk's size and LAST flag, reads and discards a chunk whose envelope it
 * refused (554 no valid recipients, 503 without MAIL), as RFC 3030 and
 * Postfix do, and refuses DATA after BODY=BINARYMIME. No STARTTLS, no AUTH.
 */
import { createServer, type Socket } from 'node:net';
import type { SinkMessage, SmtpSink, SmtpSinkOptions } from './smtp-sink.js';
import { listenSink } from './sink-handle.js';

/** MAIL/RCPT parameters as smtp-server gives them: upper-case keys, a bare keyword is true. */
function parseParams(words: string[]): Record<string, string | boolean> {
  const out: Record<string, string | boolean> = {};
  for (const w of words) {
    if (!w) continue;
    const eq = w.indexOf('=');
    if (eq < 0) out[w.toUpperCase()] = true;
    else out[w.slice(0, eq).toUpperCase()] = w.slice(eq + 1);
  }
  return out;
}

/** "<addr> PARAM=..." after "MAIL FROM:" / "RCPT TO:". */
function parsePath(rest: string): { address: string; params: Record<string, string | boolean> } | undefined {
  const m = /^\s*<([^>]*)>\s*(.*)$/.exec(rest);
  if (!m) return undefined;
  return { address: m[1], params: parseParams(m[2].split(/\s+/)) };
}

const END_OF_DATA = Buffer.from('\r\n.\r\n');

export async function startChunkingSink(opts: SmtpSinkOptions): Promise<SmtpSink> {
  if (opts.starttls) throw new Error('the chunking sink does not offer STARTTLS');
  const messages: SinkMessage[] = [];
  const wire: Buffer[] = [];
  const sockets = new Set<Socket>();
  let connections = 0;
  let maxConcurrent = 0;

  const extensions = (): string[] => {
    const ext: string[] = [];
    if (opts.pipelining !== false) ext.push('PIPELINING');
    if (opts.size) ext.push(`SIZE ${opts.size}`);
    if (opts.eightBitMime !== false) ext.push('8BITMIME');
    if (opts.binaryMime) ext.push('BINARYMIME');
    if (opts.chunking) ext.push('CHUNKING');
    if (opts.dsn !== false) ext.push('DSN');
    if (opts.smtputf8 !== false) ext.push('SMTPUTF8');
    ext.push('ENHANCEDSTATUSCODES');
    return ext;
  };

  const server = createServer((socket) => {
    connections++;
    const session = connections;
    sockets.add(socket);
    maxConcurrent = Math.max(maxConcurrent, sockets.size);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => undefined);
    const reply = (text: string): void => {
      if (!socket.destroyed) socket.write(text + '\r\n');
    };
    if (opts.greeting) {
      reply(`${opts.greeting.code} ${opts.greeting.message}`);
      socket.end();
      return;
    }
    reply('220 sink.test ESMTP sink');

    let helo = '';
    let mail: { address: string; params: Record<string, string | boolean> } | undefined;
    let rcpts: Array<{ address: string; params: Record<string, string | boolean> }> = [];
    let chunks: Buffer[] = [];
    let chunkLog: Array<{ size: number; last: boolean }> = [];
    let buf: Buffer = Buffer.alloc(0);
    let mode: 'command' | 'data' | 'chunk' = 'command';
    let chunkLeft = 0;
    let chunkLast = false;
    let chunkRefusal = '';
    let busy = false;

    const reset = (): void => {
      mail = undefined;
      rcpts = [];
      chunks = [];
      chunkLog = [];
    };

    /** The message is complete: record it and answer as the test says. */
    const deliver = (raw: Buffer, viaBdat: boolean): void => {
      const msg: SinkMessage = {
        mailFrom: mail?.address ?? '',
        rcptTo: rcpts.map((r) => r.address),
        mailParams: mail?.params ?? {},
        rcptParams: rcpts.map((r) => r.params),
        raw,
        session,
        helo,
        secure: false,
        clientAddress: socket.remoteAddress ?? '',
        refused: false,
        bdat: viaBdat ? chunkLog : undefined,
      };
      reset();
      const answer = (): void => {
        const r = opts.data?.(msg);
        msg.refused = !!r;
        messages.push(msg);
        reply(r ? `${r.code} ${r.message}` : `250 2.0.0 Ok: queued as SINK${messages.length}`);
        busy = false;
        process();
      };
      busy = true;
      if (opts.dataDelayMs) setTimeout(answer, opts.dataDelayMs);
      else answer();
    };

    const command = (line: string): void => {
      const verb = line.split(' ')[0].toUpperCase();
      const rest = line.slice(verb.length);
      switch (verb) {
        case 'EHLO': {
          helo = rest.trim();
          const ext = extensions();
          reply(['250-sink.test', ...ext.slice(0, -1).map((e) => `250-${e}`), `250 ${ext[ext.length - 1]}`].join('\r\n'));
          return;
        }
        case 'HELO':
          helo = rest.trim();
          return reply('250 sink.test');
        case 'MAIL': {
          if (mail) return reply('503 5.5.1 Error: nested MAIL command');
          const p = /^ FROM:/i.test(rest) ? parsePath(rest.slice(6)) : undefined;
          if (!p) return reply('501 5.5.4 Syntax: MAIL FROM:<address>');
          const r = opts.mail?.(p.address);
          if (r) return reply(`${r.code} ${r.message}`);
          mail = p;
          return reply('250 2.1.0 Ok');
        }
        case 'RCPT': {
          if (!mail) return reply('503 5.5.1 Error: need MAIL command');
          const p = /^ TO:/i.test(rest) ? parsePath(rest.slice(4)) : undefined;
          if (!p) return reply('501 5.5.4 Syntax: RCPT TO:<address>');
          const r = opts.rcpt?.(p.address);
          if (r) return reply(`${r.code} ${r.message}`);
          rcpts.push(p);
          return reply('250 2.1.5 Ok');
        }
        case 'DATA':
          if (!mail) return reply('503 5.5.1 Error: need RCPT command');
          if (!rcpts.length) return reply('554 5.5.1 Error: no valid recipients');
          if (mail.params.BODY === 'BINARYMIME') return reply('503 5.5.1 Error: BDAT is required with BODY=BINARYMIME');
          mode = 'data';
          return reply('354 End data with <CR><LF>.<CR><LF>');
        case 'BDAT': {
          const m = /^ (\d+)( LAST)?\s*$/i.exec(rest);
          if (!m || !opts.chunking) return reply('501 5.5.4 Syntax: BDAT count [LAST]');
          chunkLeft = Number(m[1]);
          chunkLast = !!m[2];
          chunkRefusal = !mail ? '503 5.5.1 Error: need MAIL command' : !rcpts.length ? '554 5.5.1 Error: no valid recipients' : '';
          mode = 'chunk';
          if (!chunkRefusal) chunks.push(Buffer.alloc(0));
          if (chunkLeft === 0) endChunk();
          return;
        }
        case 'RSET':
          reset();
          return reply('250 2.0.0 Ok');
        case 'NOOP':
          return reply('250 2.0.0 Ok');
        case 'QUIT':
          reply('221 2.0.0 Bye');
          socket.end();
          return;
        default:
          return reply('502 5.5.2 Error: command not recognized');
      }
    };

    const endChunk = (): void => {
      mode = 'command';
      if (chunkRefusal) {
        // The chunk is read and dropped, and the transaction with it.
        reply(chunkRefusal);
        reset();
        return;
      }
      chunkLog.push({ size: chunks[chunks.length - 1].length, last: chunkLast });
      if (chunkLast) deliver(Buffer.concat(chunks.splice(0)), true);
      else reply(`250 2.0.0 Ok: ${chunkLog[chunkLog.length - 1].size} octets received`);
    };

    const process = (): void => {
      while (!busy && buf.length) {
        if (mode === 'chunk') {
          const n = Math.min(chunkLeft, buf.length);
          // Each chunk is kept as one Buffer, so its size can be logged.
          if (!chunkRefusal) chunks[chunks.length - 1] = Buffer.concat([chunks[chunks.length - 1], buf.subarray(0, n)]);
          buf = buf.subarray(n);
          chunkLeft -= n;
          if (chunkLeft === 0) endChunk();
          continue;
        }
        if (mode === 'data') {
          let end: number;
          let bodyEnd: number;
          if (buf.subarray(0, 3).toString('latin1') === '.\r\n') {
            end = 3;
            bodyEnd = 0;
          } else {
            const at = buf.indexOf(END_OF_DATA);
            if (at < 0) return;
            end = at + END_OF_DATA.length;
            bodyEnd = at + 2;
          }
          const stuffed = buf.subarray(0, bodyEnd).toString('latin1');
          buf = buf.subarray(end);
          mode = 'command';
          deliver(Buffer.from(stuffed.replace(/(^|\r\n)\.\./g, '$1.'), 'latin1'), false);
          continue;
        }
        const lf = buf.indexOf('\r\n');
        if (lf < 0) return;
        const line = buf.subarray(0, lf).toString('utf8');
        buf = buf.subarray(lf + 2);
        command(line);
      }
    };

    socket.on('data', (d: Buffer) => {
      wire.push(d);
      buf = buf.length ? Buffer.concat([buf, d]) : d;
      process();
    });
  });

  const book = { messages, sockets, wire, connections: () => connections, maxConcurrent: () => maxConcurrent };
  return listenSink((p, h, cb) => server.listen(p, h, cb), server, (cb) => server.close(() => cb()), opts, book);
}
