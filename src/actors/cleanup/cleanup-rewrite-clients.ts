/**
 * cleanup-rewrite-clients: whether a client's mail gets missing headers
 * added (Postfix's local_header_rewrite_clients and
 * always_add_missing_headers). Supported entries: permit_inet_interfaces
 * (the default: a client on one of this host's addresses),
 * permit_mynetworks (mynetworks as smtpd matches it: networks, addresses,
 * names, tables), permit_sasl_authenticated, static:all. Other entries never
 * match. A malformed mynetworks throws from the constructor (a start-up
 * error, as in smtpd); matches() throws only when a mynetworks table fails
 * a lookup.
 */
import { networkInterfaces } from 'node:os';
import { compileHostList, type HostMatcher } from '../../config/access-lookup.js';
import type { MainConfig } from '../../config/main-config.js';
import type { ClientInfo } from '../../store/store-types.js';

/** Decides, per client, whether missing From/Date/Message-ID headers are added. */
export class HeaderRewriteClients {
  private readonly always: boolean;
  private readonly entries: string[];
  private readonly own = new Set<string>();
  private readonly mynetworks: HostMatcher;

  constructor(config: MainConfig) {
    this.always = config.has('always_add_missing_headers') ? config.bool('always_add_missing_headers') : false;
    this.entries = config.has('local_header_rewrite_clients') ? config.list('local_header_rewrite_clients') : ['permit_inet_interfaces'];
    this.mynetworks = compileHostList(config.has('mynetworks') ? config.list('mynetworks') : ['127.0.0.0/8', '::1'], config.dir);
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
      if (e === 'permit_mynetworks' && this.mynetworks.match(client.name, client.addr)) return true;
    }
    return false;
  }
}
