/**
 * metrics-listen: reads the metrics_listen parameter ("127.0.0.1:9154",
 * "[::1]:9154", or a bare port for every address, as a master.cf inet
 * service name). Empty means off. A malformed value throws MetricsListenError
 * (ERR_METRICS_LISTEN) with a one-line message naming the parameter.
 */
import { isIP } from 'node:net';

/** A bad metrics_listen value. */
export class MetricsListenError extends Error {
  readonly code = 'ERR_METRICS_LISTEN';
  constructor(message: string) {
    super(message);
    this.name = 'MetricsListenError';
  }
}

/** Where the metrics listener binds; host undefined means every address. */
export interface MetricsAddress {
  host?: string;
  port: number;
}

/** Parses metrics_listen (or another listener parameter of that form, `name`); undefined when it is empty (off). */
export function parseMetricsListen(value: string | undefined, name = 'metrics_listen'): MetricsAddress | undefined {
  const v = (value ?? '').trim();
  if (v === '') return undefined;
  const bad = (why: string): MetricsListenError => new MetricsListenError(`${name} = ${v}: ${why} (expected host:port, [ipv6]:port or port)`);
  let host: string | undefined;
  let portText = v;
  const v6 = /^\[([^\]]*)\]:(.*)$/.exec(v);
  if (v6) {
    host = v6[1];
    portText = v6[2];
    if (isIP(host) !== 6) throw bad(`"${host}" is not an IPv6 address`);
  } else if (v.includes(':')) {
    const i = v.lastIndexOf(':');
    host = v.slice(0, i);
    portText = v.slice(i + 1);
    if (host.includes(':')) throw bad('an IPv6 address needs brackets');
    if (host === '' || host === '*') host = undefined;
    else if (!isIP(host) && !/^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/.test(host)) throw bad(`bad host "${host}"`);
  }
  if (!/^\d{1,5}$/.test(portText)) throw bad(`bad port "${portText}"`);
  const port = Number(portText);
  if (port < 1 || port > 65535) throw bad(`port ${port} out of range`);
  return { host, port };
}
