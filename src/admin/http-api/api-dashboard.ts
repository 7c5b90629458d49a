/**
 * api-dashboard: serves the web dashboard's files (web/dashboard in the
 * package, and uPlot's from its package) at / on the API's listener. The
 * files hold no data: the page asks for a token and calls the API with it.
 * Nothing is fetched from outside the host.
 *
 * Errors: a path that is not one of the files is a 404.
 */
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import type { FastifyInstance } from 'fastify';

const WEB = new URL('../../../../web/dashboard/', import.meta.url);
const require = createRequire(import.meta.url);

interface Asset {
  file: string;
  type: string;
}

function assets(): Record<string, Asset> {
  const uplot = require.resolve('uplot/dist/uPlot.iife.min.js');
  return {
    '/': { file: fileURLToPath(new URL('index.html', WEB)), type: 'text/html; charset=utf-8' },
    '/dashboard.js': { file: fileURLToPath(new URL('dashboard.js', WEB)), type: 'text/javascript; charset=utf-8' },
    '/dashboard.css': { file: fileURLToPath(new URL('dashboard.css', WEB)), type: 'text/css; charset=utf-8' },
    '/uPlot.iife.min.js': { file: uplot, type: 'text/javascript; charset=utf-8' },
    '/uPlot.min.css': { file: uplot.replace(/uPlot\.iife\.min\.js$/, 'uPlot.min.css'), type: 'text/css; charset=utf-8' },
  };
}

export function registerDashboard(app: FastifyInstance): void {
  for (const [path, a] of Object.entries(assets())) {
    app.get(path, { schema: { hide: true } }, (_req, reply) => {
      // Read per request: small files, and an upgrade in place shows at once.
      reply.header('content-type', a.type).header('cache-control', 'no-cache').header('content-security-policy', "default-src 'self'; style-src 'self' 'unsafe-inline'");
      return reply.send(readFileSync(a.file));
    });
  }
}
