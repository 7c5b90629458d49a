/**
 * smtp-nexthop: parses a nexthop as Postfix's smtp(8) reads it:
 * "domain", "domain:port", "[host]", "[host]:port", "[ipv6]:port".
 * Brackets suppress the MX lookup. A list of them (comma or white space
 * separated, as Postfix 3.5 and later take in relayhost and transport_maps)
 * is tried in order, as MX hosts are: parseNexthopList. Returns undefined
 * for a value it cannot read (the agent then defers with a configuration
 * error).
 */
import { isIP } from 'node:net';

export interface Nexthop {
  /** Domain (MX lookup) or host name / address (no MX lookup). */
  host: string;
  port: number;
  /** True when MX records are to be looked up for `host`. */
  mxLookup: boolean;
}

const SERVICES: Record<string, number> = { smtp: 25, submission: 587, smtps: 465, submissions: 465, lmtp: 24 };

function parsePort(text: string): number | undefined {
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    return n > 0 && n < 65536 ? n : undefined;
  }
  return SERVICES[text.toLowerCase()];
}

/** Parses `nexthop`; `defaultPort` applies when none is given. */
export function parseNexthop(nexthop: string, defaultPort = 25): Nexthop | undefined {
  let text = nexthop.trim();
  // A transport-qualified nexthop ("smtp:[host]:port") can reach us from transport_maps.
  const qualified = /^(smtp|relay|lmtp):(.*)$/i.exec(text);
  if (qualified && qualified[2]) text = qualified[2];
  if (!text) return undefined;
  if (text.startsWith('[')) {
    const close = text.indexOf(']');
    if (close < 2) return undefined;
    let host = text.slice(1, close);
    if (/^ipv6:/i.test(host)) host = host.slice(5);
    const rest = text.slice(close + 1);
    let port = defaultPort;
    if (rest) {
      if (!rest.startsWith(':')) return undefined;
      const p = parsePort(rest.slice(1));
      if (p === undefined) return undefined;
      port = p;
    }
    return { host, port, mxLookup: false };
  }
  if (isIP(text)) return { host: text, port: defaultPort, mxLookup: false };
  const colon = text.lastIndexOf(':');
  let host = text;
  let port = defaultPort;
  if (colon >= 0) {
    const p = parsePort(text.slice(colon + 1));
    if (p === undefined) return undefined;
    host = text.slice(0, colon);
    port = p;
  }
  if (!/^[A-Za-z0-9._-]+$/.test(host)) return undefined;
  return { host: host.replace(/\.$/, ''), port, mxLookup: !isIP(host) };
}

/** Parses a list of nexthops ("[a]:25, [b]:25"); undefined when any element cannot be read. */
export function parseNexthopList(nexthop: string, defaultPort = 25): Nexthop[] | undefined {
  const items = nexthop.split(/[\s,]+/).filter((x) => x !== '');
  if (items.length === 0) return undefined;
  const out: Nexthop[] = [];
  for (const item of items) {
    const n = parseNexthop(item, defaultPort);
    if (!n) return undefined;
    out.push(n);
  }
  return out;
}
