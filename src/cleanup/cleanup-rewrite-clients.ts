/**
 * cleanup-rewrite-clients: whether a client's mail gets missing headers
 * added and its header addresses rewritten as local mail's (Postfix's
 * local_header_rewrite_clients; always_add_missing_headers adds the
 * headers for every client). Supported entries: permit_inet_interfaces
 * (the default: a client on one of this host's addresses),
 * permit_mynetworks (mynetworks as smtpd matches it: networks, addresses,
 * names, tables), permit_sasl_authenticated, static:all. Other entries never
 * match. A malformed mynetworks throws from the constructor (a start-up
 * error, as in smtpd); matches() throws only when a mynetworks table fails
 * a lookup.
 */
import { networkInterfaces } from 'node:os';
import { compileHostList, type HostMatcher } from '../config/access-lookup.js';
import type { MainConfig } from '../config/main-config.js';
import { withParameterDefaults } from '../config/parameter-defaults.js';
import type { ClientInfo } from '../store/store-types.js';

/** Decides, per client, whether missing From/Date/Message-ID headers are added. */
export class HeaderRewriteClients {
  private readonly always: boolean;
  private readonly entries: string[];
  private readonly own = new Set<string>();
  private readonly mynetworks: HostMatcher;

  constructor(config: MainConfig) {
    const c = withParameterDefaults(config, ['always_add_missing_headers', 'local_header_rewrite_clients', 'inet_interfaces']);
    this.always = c.bool('always_add_missing_headers');
    this.entries = c.list('local_header_rewrite_clients');
    this.mynetworks = compileHostList(config.has('mynetworks') ? config.list('mynetworks') : ['127.0.0.0/8', '::1'], config.dir);
    for (const v of c.list('inet_interfaces')) {
      if (v === 'all') {
        for (const list of Object.values(networkInterfaces())) for (const ni of list ?? []) this.own.add(ni.address.toLowerCase());
      } else if (v === 'loopback-only') {
        this.own.add('127.0.0.1').add('::1');
      } else this.own.add(v.toLowerCase());
    }
  }

  /** True when cleanup should add the missing headers for this submission. */
  matches(client: ClientInfo, local: boolean): boolean {
    return this.always || this.isLocalClient(client, local);
  }

  /** True when the client is in mynetworks (dkim_sign_local_only). */
  inMynetworks(client: ClientInfo): boolean {
    return this.mynetworks.match(client.name, client.addr);
  }

  /** True when the submission's headers are rewritten in the "local" context (local_header_rewrite_clients). */
  isLocalClient(client: ClientInfo, local: boolean): boolean {
    if (local) return true;
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
