/**
 * api-install: serves the HTTP API (http_api_listen) for a supervisor from
 * the end of start() until it stops, and follows reload: changed settings
 * (address, tokens, TLS, public health, or maillog_file, which decides where
 * the event stream reads the log) close the running listener and open one
 * with the new (reopening the old if the new cannot bind), an emptied value
 * closes it. Fastify is loaded only when the API is on.
 *
 * Errors: bad settings throw HttpApiConfigError at once (start refuses, a
 * reload is refused with the listener kept); an address that cannot be
 * bound makes start() stop the tree (a start hook) and refuses a reload.
 */
import { MainConfig } from '../../config/main-config.js';
import type { Supervisor } from '../../supervisor/supervisor.js';
import type { SupervisorConfig } from '../../supervisor/role-registry.js';
import { readApiConfig, type HttpApiSettings } from './api-config.js';
import type { HttpApiServer } from './api-server.js';

interface Serving {
  key?: string;
  server?: HttpApiServer;
  /** The configuration the running listener was made from (a failed reload reopens it). */
  config: SupervisorConfig;
}

/** The settings that make a new listener, as one comparable string. */
function keyOf(s: HttpApiSettings | undefined, main: MainConfig): string | undefined {
  if (!s) return undefined;
  return JSON.stringify([s.address, s.tokens, s.publicHealth, s.tls?.cert.toString('base64'), s.tls?.key.toString('base64'), main.path('maillog_file')]);
}

async function makeServer(config: SupervisorConfig, settings: HttpApiSettings, sup: Supervisor): Promise<HttpApiServer> {
  const { HttpApiServer } = await import('./api-server.js');
  const main = new MainConfig(config.params, config.dir);
  // A JSON body carries the message escaped: room for twice message_size_limit.
  let limit = 10_240_000;
  try {
    limit = main.int('message_size_limit') || limit;
  } catch {
    // check reports a malformed limit
  }
  return new HttpApiServer(settings, sup, main.path('queue_directory'), main.path('maillog_file'), Math.max(1 << 20, 2 * limit + 65536));
}

export function installHttpApi(sup: Supervisor): void {
  const config = sup.currentConfig();
  const firstMain = new MainConfig(config.params, config.dir);
  const first = readApiConfig(firstMain);
  const now: Serving = { key: keyOf(first, firstMain), config };
  sup.addStartHook(async () => {
    if (!first) return;
    now.server = await makeServer(config, first, sup);
    await now.server.listen();
  });
  sup.addReloadHook(async (next) => {
    const nextMain = new MainConfig(next.params, next.dir);
    const settings = readApiConfig(nextMain);
    const key = keyOf(settings, nextMain);
    if (key === now.key) return undefined;
    const old = now.server;
    await old?.close();
    let fresh: HttpApiServer | undefined;
    try {
      if (settings) {
        fresh = await makeServer(next, settings, sup);
        await fresh.listen();
      }
    } catch (err) {
      if (old) {
        now.server = await makeServer(now.config, old.settings, sup);
        await now.server.listen().catch(() => undefined);
      }
      throw err;
    }
    return {
      commit: () => {
        now.key = key;
        now.server = fresh;
        now.config = next;
      },
      abort: async () => {
        await fresh?.close();
        if (old) {
          now.server = await makeServer(now.config, old.settings, sup);
          await now.server.listen().catch(() => undefined);
        }
      },
    };
  });
  sup.once('stopped', () => void now.server?.close());
}
