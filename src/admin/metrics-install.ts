/**
 * metrics-install: serves the Prometheus endpoint (metrics_listen) for a
 * supervisor from the end of start() until it stops, and follows reload:
 * a changed address opens the new listener before the old one closes
 * (the same port on another host: closes first, and reopens the old one
 * if the new cannot bind), an emptied value closes it, an unchanged one is
 * left alone. A malformed metrics_listen throws MetricsListenError at once;
 * an address that cannot be bound makes start() stop the tree and reject
 * with MetricsServerError (a start hook), and refuses a reload with the
 * running listener kept. The server's code (node:http, prom-client) is
 * loaded when a listener is first wanted: a daemon without metrics_listen
 * does not carry it (about 4 MiB of heap).
 */
import type { Supervisor } from '../supervisor/supervisor.js';
import { parseMetricsListen, type MetricsAddress } from './metrics-listen.js';
import type { MetricsServer } from './metrics-server.js';

/** The listener now serving, with its address. */
interface Serving {
  address?: MetricsAddress;
  server?: MetricsServer;
}

export function installMetrics(sup: Supervisor): void {
  const first = parseMetricsListen(sup.currentConfig().params.metrics_listen);
  const now: Serving = { address: first };
  const serverFor = async (address: MetricsAddress): Promise<MetricsServer> => new (await import('./metrics-server.js')).MetricsServer(address, sup);
  // Bound only by a daemon that owns the pid file and runs its actors.
  sup.addStartHook(async () => {
    if (!first) return;
    now.server = await serverFor(first);
    await now.server.listen();
  });
  sup.addReloadHook(async (config) => {
    const address = parseMetricsListen(config.params.metrics_listen);
    if (sameAddress(address, now.address)) return undefined;
    const old = now.server;
    const next = address ? await serverFor(address) : undefined;
    // One port cannot be bound twice (0.0.0.0 and 127.0.0.1 included): the old one gives way first.
    const samePort = address !== undefined && now.address !== undefined && address.port === now.address.port;
    if (samePort) await old?.close();
    try {
      await next?.listen();
    } catch (err) {
      if (samePort && now.address) {
        now.server = await serverFor(now.address);
        await now.server.listen().catch(() => undefined);
      }
      throw err;
    }
    return {
      commit: async () => {
        now.address = address;
        now.server = next;
        if (!samePort) await old?.close();
      },
      abort: async () => {
        await next?.close();
        if (samePort && now.address) {
          now.server = await serverFor(now.address);
          await now.server.listen().catch(() => undefined);
        }
      },
    };
  });
  sup.once('stopped', () => void now.server?.close());
}

function sameAddress(a: MetricsAddress | undefined, b: MetricsAddress | undefined): boolean {
  if (!a || !b) return a === b;
  return a.port === b.port && (a.host ?? '') === (b.host ?? '');
}
