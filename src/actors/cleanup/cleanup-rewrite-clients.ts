/**
 * cleanup-rewrite-clients: whether a client's mail gets missing headers
 * added (Postfix's local_header_rewrite_clients and
 * always_add_missing_headers). Supported entries: permit_inet_interfaces
 * (the default: a client on one of this host's addresses),
 * permit_mynetworks (exact addresses and IPv4 CIDR blocks in mynetworks),
 * permit_sasl_authenticated, static:all. Other entries never match. Never throws.
 */
import { networkInterfaces } from 'node:os';
import type { MainConfig } from '../../config/main-config.js';
import type { ClientInfo } from '../../store/store-types.js';

function ipv4ToInt(ip: string): number | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(ip);
  if (!m) return undefined;
  const parts = m.slice(1).map(Number);
  if (parts.some((p) => p > 255)) return undefined;
  return ((parts[0] << 24) | (parts[1] << 16) | (parts[2] << 8) | parts[3]) >>> 0;
}

/** True when `addr` is `pattern` or inside an IPv4 `net/len` pattern. */
function addrMatches(addr: string, pattern: string): boolean {
  const p = pattern.replace(/^\[|\]$/g, '').replace(/\](\/\d+)$/, '$1').replace(/^\[/, '');
  const slash = p.indexOf('/');
  if (slash < 0) return p.toLowerCase() === addr.toLowerCase();
  const net = ipv4ToInt(p.slice(0, slash));
  const ip = ipv4ToInt(addr.replace(/^::ffff:/i, ''));
  const len = Number(p.slice(slash + 1));
  if (net === undefined || ip === undefined || !(len >= 0 && len <= 32)) return false;
  const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
  return (net & mask) === (ip & mask);
}

/** Decides, per client, whether missing From/Date/Message-ID headers are added. */
export class HeaderRewriteClients {
  private readonly always: boolean;
  private readonly entries: string[];
  private readonly own = new Set<string>();
  private readonly mynetworks: string[];

  constructor(config: MainConfig) {
    this.always = config.has('always_add_missing_headers') ? config.bool('always_add_missing_headers') : false;
    this.entries = config.has('local_header_rewrite_clients') ? config.list('local_header_rewrite_clients') : ['permit_inet_interfaces'];
    this.mynetworks = config.has('mynetworks') ? config.list('mynetworks') : ['127.0.0.0/8', '::1'];
    const ifaces = config.has('inet_interfaces') ? config.list('inet_interfaces') : ['all'];
    for (const v of ifaces) {
      if (v === 'all') {
        for (const list of Object.values(networkInterfaces())) for (const ni of list ?? []) this.own.add(ni.address.toLowerCase());
      } else if (v === 'loopback-only') {
        this.own.add('127.0.0.1').add('::1');
      } else this.own.add(v.toLowerCase());
    }
  }

  /** True when cleanup should add the missing headers for this submission. */
  matches(client: ClientInfo, local: boolean): boolean {
    if (local || this.always) return true;
    const addr = client.addr.replace(/^::ffff:/i, '').toLowerCase();
    for (const e of this.entries) {
      if (e === 'static:all') return true;
      if (e === 'permit_inet_interfaces' && this.own.has(addr)) return true;
      if (e === 'permit_sasl_authenticated' && client.saslUser) return true;
      if (e === 'permit_mynetworks' && this.mynetworks.some((n) => addrMatches(addr, n))) return true;
    }
    return false;
  }
}
