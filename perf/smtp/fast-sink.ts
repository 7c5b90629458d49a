/**
 * fast-sink: a minimal SMTP server for benchmarks: greets at once (no
 * early-talker delay), accepts every command, swallows DATA, counts
 * connections and messages. Not a conforming server; for loopback benches only.
 */
import { createServer, type Socket } from 'node:net';

export interface FastSink {
  port: number;
  connections: number;
  messages: number;
  close(): Promise<void>;
}

export async function startFastSink(): Promise<FastSink> {
  const sockets = new Set<Socket>();
  const state = { connections: 0, messages: 0 };
  const server = createServer((socket) => {
    state.connections++;
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => socket.destroy());
    socket.setNoDelay(true);
    socket.write('220 fast.sink ESMTP\r\n');
    let buf = '';
    let inData = false;
    socket.on('data', (chunk: Buffer) => {
      buf += chunk.toString('latin1');
      let out = '';
      for (;;) {
        if (inData) {
          const end = buf.indexOf('\r\n.\r\n');
          if (end < 0) {
            // Keep only what may hold the start of the terminator.
            if (buf.length > 4) buf = buf.slice(-4);
            break;
          }
          buf = buf.slice(end + 5);
          inData = false;
          state.messages++;
          out += `250 2.0.0 Ok: queued as F${state.messages}\r\n`;
          continue;
        }
        const nl = buf.indexOf('\r\n');
        if (nl < 0) break;
        const line = buf.slice(0, nl).toUpperCase();
        buf = buf.slice(nl + 2);
        if (line.startsWith('EHLO')) out += '250-fast.sink\r\n250-PIPELINING\r\n250-8BITMIME\r\n250-DSN\r\n250 SMTPUTF8\r\n';
        else if (line.startsWith('DATA')) {
          out += '354 End data with <CR><LF>.<CR><LF>\r\n';
          inData = true;
          // The message may start right after DATA in the same chunk: "\r\n" before it makes the terminator search uniform.
          buf = '\r\n' + buf;
        } else if (line.startsWith('QUIT')) {
          socket.end('221 2.0.0 Bye\r\n');
          return;
        } else out += '250 2.0.0 Ok\r\n';
      }
      if (out) socket.write(out);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    get connections() { return state.connections; },
    get messages() { return state.messages; },
    close: () => new Promise<void>((r) => {
      for (const s of sockets) s.destroy();
      server.close(() => r());
    }),
  };
}

/**
 * Runs the sink in a worker thread, so client and server do not share one
 * event loop; resolves with its port and a function that stops it and
 * returns its counters.
 */
export async function startFastSinkThread(): Promise<{ port: number; stop(): Promise<{ connections: number; messages: number }> }> {
  const { Worker } = await import('node:worker_threads');
  const worker = new Worker(new URL(import.meta.url), { workerData: { fastSinkWorker: true } });
  const port = await new Promise<number>((resolve, reject) => {
    worker.once('message', (m: { port: number }) => resolve(m.port));
    worker.once('error', reject);
  });
  return {
    port,
    stop: () => new Promise((resolve) => {
      worker.once('message', (m: { connections: number; messages: number }) => {
        void worker.terminate();
        resolve(m);
      });
      worker.postMessage('stop');
    }),
  };
}

// Worker side: start a sink, report its port, stop on request.
const threads = await import('node:worker_threads');
if (!threads.isMainThread && (threads.workerData as { fastSinkWorker?: boolean } | null)?.fastSinkWorker) {
  const sink = await startFastSink();
  threads.parentPort!.postMessage({ port: sink.port });
  threads.parentPort!.on('message', async () => {
    const counts = { connections: sink.connections, messages: sink.messages };
    await sink.close();
    threads.parentPort!.postMessage(counts);
  });
}
