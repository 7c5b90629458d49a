/**
 * api-server: the HTTP API's listener (http_api_listen) in the main
 * thread, on Fastify: its JSON-schema validation answers bad input with a
 * 400 before a handler runs, its body limit answers an oversized body with
 * a 413, and @fastify/swagger turns the same route schemas into the OpenAPI
 * 3.1 document at /api/v1/openapi.json. Every request under /api/ (and
 * /healthz, unless http_api_public_health = yes) needs `Authorization:
 * Bearer TOKEN` with a token of http_api_token_file; without a token file
 * the API serves loopback only and asks for none. The dashboard's files
 * (api-dashboard) hold no data and are served to anyone who can connect.
 * The event stream and the throughput graph read the log: maillog_file when
 * it is set (api-log-file), else every thread's lines as they are logged
 * (api-log-shared), whether they go to standard output or to syslog.
 *
 * Why Fastify rather than node:http: the schemas that validate are the ones
 * the OpenAPI document shows, so the two cannot drift, and its validator
 * and serialiser are maintained; it is loaded only when the API is on.
 *
 * Errors: listen() rejects with HttpApiServerError (ERR_HTTP_API_BIND),
 * one line, when the address cannot be bound. A handler that throws gives a
 * 500 with a JSON error and a warning in the log; the daemon goes on.
 */
import { createHash, timingSafeEqual } from 'node:crypto';
import Fastify, { type FastifyInstance } from 'fastify';
import swagger from '@fastify/swagger';
import { Logger } from '../../util/log.js';
import type { Supervisor } from '../../supervisor/supervisor.js';
import type { HttpApiSettings } from './api-config.js';
import { LogEvents } from './api-events.js';
import { FileLines } from './api-log-file.js';
import { SharedLines } from './api-log-shared.js';
import { registerRoutes } from './api-routes.js';
import { registerDashboard } from './api-dashboard.js';
import { ThroughputHistory } from './api-throughput.js';

export class HttpApiServerError extends Error {
  readonly code = 'ERR_HTTP_API_BIND';
  constructor(message: string) {
    super(message);
    this.name = 'HttpApiServerError';
  }
}

const log = new Logger('http-api', process.pid);

/** Compares as digests, in constant time, so a token cannot be guessed a byte at a time. */
function tokenMatcher(tokens: string[]): (given: string) => boolean {
  const digests = tokens.map((t) => createHash('sha256').update(t).digest());
  return (given) => {
    const d = createHash('sha256').update(given).digest();
    let ok = false;
    for (const t of digests) if (timingSafeEqual(t, d)) ok = true;
    return ok;
  };
}

export class HttpApiServer {
  private app?: FastifyInstance;
  private events?: LogEvents;
  private stopCounting?: () => void;
  private readonly throughput = new ThroughputHistory();

  constructor(
    readonly settings: HttpApiSettings,
    private readonly sup: Supervisor,
    private readonly queueDir: string,
    private readonly maillogFile: string,
    private readonly bodyLimit: number,
  ) {}

  /** Builds the app and binds; resolves with the port bound. */
  async listen(): Promise<number> {
    const s = this.settings;
    const app = Fastify({ logger: false, bodyLimit: this.bodyLimit, https: s.tls ? { cert: s.tls.cert, key: s.tls.key } : null, ajv: { customOptions: { coerceTypes: true, removeAdditional: false } } });
    this.app = app;
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: { title: 'Postrider HTTP API', version: '1' },
        components: { securitySchemes: { bearer: { type: 'http', scheme: 'bearer' } } },
        security: s.tokens.length > 0 ? [{ bearer: [] }] : [],
      },
    });
    const allowed = tokenMatcher(s.tokens);
    app.addHook('onRequest', async (req, reply) => {
      const path = req.url.split('?')[0];
      const guarded = path.startsWith('/api/') || (path === '/healthz' && !s.publicHealth);
      if (!guarded || s.tokens.length === 0) return;
      const m = /^Bearer\s+(\S+)$/i.exec(req.headers.authorization ?? '');
      if (!m || !allowed(m[1])) {
        await reply.code(401).header('www-authenticate', 'Bearer').send({ statusCode: 401, error: 'Unauthorized', message: 'a bearer token of http_api_token_file is needed' });
      }
    });
    app.setErrorHandler((err: Error & { statusCode?: number; validation?: unknown }, _req, reply) => {
      const code = err.statusCode && err.statusCode >= 400 && err.statusCode < 500 ? err.statusCode : 500;
      if (code === 500) log.warning(`http api: ${err.message.split('\n')[0]}`);
      void reply.code(code).send({ statusCode: code, error: code === 500 ? 'Internal Server Error' : (err.name ?? 'Bad Request'), message: err.message.split('\n')[0] });
    });
    // The log file when there is one; otherwise every thread's lines as they are logged (standard output, syslog).
    const events = new LogEvents(this.maillogFile ? new FileLines(this.maillogFile) : new SharedLines());
    this.events = events;
    // The graph's last hour is counted while the API runs, whether anyone watches or not.
    this.stopCounting = events.listen((e) => this.throughput.add(e));
    registerRoutes(app, {
      sup: this.sup,
      queue: { callActor: this.sup.callActor.bind(this.sup), shards: () => this.sup.queueShards() },
      queueDir: this.queueDir,
      events,
      throughput: this.throughput,
    });
    app.get('/api/v1/openapi.json', { schema: { hide: true } }, () => app.swagger());
    registerDashboard(app);
    try {
      await app.listen({ port: s.address.port, host: s.address.host });
    } catch (err) {
      // Nothing is left reading the log for a listener that never opened.
      this.stopCounting?.();
      events.close();
      await app.close().catch(() => undefined);
      throw new HttpApiServerError(`http_api_listen: cannot listen on ${s.address.host}:${s.address.port}: ${(err as Error).message}`);
    }
    const addr = app.server.address();
    return typeof addr === 'object' && addr ? addr.port : s.address.port;
  }

  async close(): Promise<void> {
    this.stopCounting?.();
    this.events?.close();
    // Event streams are long-lived: end them so close() does not wait for their clients.
    this.app?.server.closeAllConnections?.();
    await this.app?.close();
  }
}
