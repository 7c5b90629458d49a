/**
 * metrics-server: the Prometheus endpoint (metrics_listen) in the main
 * thread. `GET /metrics` gathers a scrape (MetricsCollector) and answers
 * it in Prometheus text (MetricsRegistry); scrapes that arrive together
 * share one gathering, so a slow actor cannot pile up requests. `GET
 * /healthz` answers 200 "ok" when the tree is ready and every actor runs (or waits on demand),
 * else 503 with the reason on one line (for a load balancer or a service
 * monitor). Any other path answers 404, any other method 405. A failed gathering answers 500
 * with one line. listen() rejects with MetricsServerError
 * (ERR_METRICS_BIND) when the address cannot be bound; a failed accept
 * (out of descriptors) loses that connection only.
 */
import { healthOf } from './health.js';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import { MetricsCollector, type CollectorOptions, type MetricsSource } from './metrics-collect.js';
import type { MetricsAddress } from './metrics-listen.js';
import { MetricsRegistry } from './metrics-registry.js';

/** The metrics listener could not start. */
export class MetricsServerError extends Error {
  readonly code = 'ERR_METRICS_BIND';
  constructor(message: string) {
    super(message);
    this.name = 'MetricsServerError';
  }
}

export class MetricsServer {
  private readonly collector: MetricsCollector;
  private readonly registry = new MetricsRegistry();
  private readonly server: Server;
  private readonly sockets = new Set<Socket>();
  private inflight: Promise<string> | undefined;

  constructor(
    private readonly address: MetricsAddress,
    private readonly source: MetricsSource,
    opts: CollectorOptions = {},
  ) {
    this.collector = new MetricsCollector(source, opts);
    this.server = createServer((req, res) => this.handle(req, res));
    this.server.on('connection', (s: Socket) => {
      this.sockets.add(s);
      s.on('close', () => this.sockets.delete(s));
    });
    this.server.on('clientError', (_err, socket) => {
      if (socket.writable) socket.end('HTTP/1.1 400 Bad Request\r\nConnection: close\r\n\r\n');
      else socket.destroy();
    });
    // An accept that fails (EMFILE when the process is out of descriptors) loses
    // that connection; without a listener it would take the main thread down.
    this.server.on('error', () => undefined);
  }

  /** Binds the listener; resolves with the bound address. */
  listen(): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => {
        this.server.removeListener('listening', onListening);
        const where = this.address.host?.includes(':') ? `[${this.address.host}]:${this.address.port}` : `${this.address.host ?? '*'}:${this.address.port}`;
        reject(new MetricsServerError(`metrics_listen: cannot listen on ${where}: ${err.message}`));
      };
      const onListening = (): void => {
        this.server.removeListener('error', onError);
        resolve(this.server.address() as AddressInfo);
      };
      this.server.once('error', onError);
      this.server.once('listening', onListening);
      this.server.listen(this.address.port, this.address.host);
    });
  }

  /** The Prometheus text of one scrape (what GET /metrics answers). */
  scrape(): Promise<string> {
    if (!this.inflight) {
      this.inflight = this.collector
        .collect()
        .then((view) => this.registry.render(view))
        .finally(() => {
          this.inflight = undefined;
        });
    }
    return this.inflight;
  }

  /** /healthz: ok, or why not (not ready, actors not running, no answer). */
  async health(): Promise<{ ok: boolean; text: string }> {
    let st: Awaited<ReturnType<MetricsSource['status']>>;
    try {
      st = await this.source.status();
    } catch (err) {
      return { ok: false, text: `no status: ${((err as Error)?.message ?? String(err)).split('\n')[0]}` };
    }
    return healthOf(st);
  }

  /** Stops listening and closes every open connection. */
  close(): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      this.server.close(() => resolve());
      for (const s of this.sockets) s.destroy();
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    const path = (req.url ?? '').split('?')[0];
    if (path !== '/metrics' && path !== '/healthz') return this.reply(res, 404, 'not found: try /metrics or /healthz\n');
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return this.reply(res, 405, 'method not allowed\n');
    }
    if (path === '/healthz') {
      void this.health().then((h) => this.reply(res, h.ok ? 200 : 503, req.method === 'HEAD' ? '' : h.text + '\n'));
      return;
    }
    this.scrape().then(
      (text) => this.reply(res, 200, req.method === 'HEAD' ? '' : text, this.registry.contentType),
      (err: Error) => this.reply(res, 500, `metrics unavailable: ${(err?.message ?? String(err)).split('\n')[0]}\n`),
    );
  }

  private reply(res: ServerResponse, status: number, body: string, type = 'text/plain; charset=utf-8'): void {
    if (res.headersSent || res.destroyed) return;
    res.writeHead(status, { 'Content-Type': type, 'Content-Length': Buffer.byteLength(body) });
    res.end(body);
  }
}
