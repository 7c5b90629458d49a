/**
 * trivial-rewrite-resolve: an address to its class, transport and nexthop,
 * as Postfix's resolve(8) half of trivial-rewrite:
 *   local            domain in mydestination, a bare user, or [ip] of this host -> local_transport
 *   virtual_alias    virtual_alias_domains -> error:5.1.1 User unknown in virtual alias table
 *   virtual_mailbox  virtual_mailbox_domains -> virtual_transport
 *   relay            relay_domains -> relay_transport (relayhost, else the domain)
 *   default          anything else -> default_transport (relayhost, else the domain)
 * then transport_maps overrides (address, domain, ".parent" domains, "*").
 * An empty local_transport means "local" (the local delivery agent), with
 * $myhostname as the nexthop when none is given. A failing table throws
 * TableLookupError.
 */
import { networkInterfaces } from 'node:os';
import type { MainConfig } from '../../config/main-config.js';
import type { LookupTable } from '../../config/lookup-table.js';
import type { ResolvedAddress } from '../../protocol/protocol.js';
import { splitList } from '../../config/main-config.js';
import { splitAddress } from './trivial-rewrite-address.js';
import { DomainList, parentMatchesSubdomains } from './trivial-rewrite-domain-list.js';
import { param, type RewriteParameter } from './trivial-rewrite-params.js';
import { lookup, openMaps } from './trivial-rewrite-tables.js';

/** Splits "transport:nexthop"; either part may be empty. */
function splitTransport(value: string): { transport: string; nexthop: string } {
  const v = value.trim();
  const colon = v.indexOf(':');
  if (colon < 0) return { transport: v, nexthop: '' };
  return { transport: v.slice(0, colon), nexthop: v.slice(colon + 1) };
}

/** The addresses this host answers on, for "user@[ip]" recipients. */
function ownAddresses(config: MainConfig): Set<string> {
  const own = new Set<string>();
  const values = [...splitList(param(config, 'inet_interfaces')), ...splitList(param(config, 'proxy_interfaces'))];
  for (const v of values) {
    const lower = v.toLowerCase();
    if (lower === 'all') {
      for (const list of Object.values(networkInterfaces())) for (const ni of list ?? []) own.add(ni.address.toLowerCase());
    } else if (lower === 'loopback-only') {
      own.add('127.0.0.1');
      own.add('::1');
    } else {
      own.add(lower.replace(/^\[|\]$/g, ''));
    }
  }
  return own;
}

/** Resolution state built once from the configuration. */
export class Resolver {
  private readonly mydestination: DomainList;
  private readonly virtualAlias: DomainList;
  private readonly virtualMailbox: DomainList;
  private readonly relay: DomainList;
  private readonly transportMaps: LookupTable | undefined;
  private readonly own: Set<string>;
  private readonly relayhost: string;
  private readonly myhostname: string;

  constructor(private readonly config: MainConfig) {
    const dir = config.dir;
    const pdms = param(config, 'parent_domain_matches_subdomains');
    const list = (name: RewriteParameter): DomainList => new DomainList(param(config, name), dir, name, parentMatchesSubdomains(pdms, name));
    this.mydestination = list('mydestination');
    this.virtualAlias = list('virtual_alias_domains');
    this.virtualMailbox = list('virtual_mailbox_domains');
    this.relay = list('relay_domains');
    this.transportMaps = openMaps(param(config, 'transport_maps'), dir, 'transport_maps');
    this.own = ownAddresses(config);
    // A list is kept whole: the smtp client tries its elements in order (Postfix 3.5 and later).
    this.relayhost = splitList(param(config, 'relayhost')).join(', ');
    this.myhostname = param(config, 'myhostname');
  }

  /** Resolves one address (recipient as given; its domain compared case-insensitively). */
  resolve(address: string): ResolvedAddress {
    const { domain } = splitAddress(address, '');
    let addressClass: ResolvedAddress['addressClass'];
    let transport: string;
    let nexthop: string;
    if (this.isLocal(domain)) {
      addressClass = 'local';
      const t = splitTransport(param(this.config, 'local_transport'));
      transport = t.transport || 'local';
      nexthop = t.nexthop || this.myhostname;
    } else if (this.virtualAlias.match(domain)) {
      addressClass = 'virtual_alias';
      transport = 'error';
      nexthop = '5.1.1 User unknown in virtual alias table';
    } else if (this.virtualMailbox.match(domain)) {
      addressClass = 'virtual_mailbox';
      const t = splitTransport(param(this.config, 'virtual_transport'));
      transport = t.transport || 'virtual';
      nexthop = t.nexthop || domain;
    } else if (this.relay.match(domain)) {
      addressClass = 'relay';
      const t = splitTransport(param(this.config, 'relay_transport'));
      transport = t.transport || 'relay';
      nexthop = t.nexthop || this.relayhost || domain;
    } else {
      addressClass = 'default';
      const t = splitTransport(param(this.config, 'default_transport'));
      transport = t.transport || 'smtp';
      nexthop = t.nexthop || this.relayhost || domain;
    }
    if (this.transportMaps) ({ transport, nexthop } = this.applyTransportMaps(this.transportMaps, address, domain, transport, nexthop));
    return { addressClass, transport, nexthop, recipient: address };
  }

  /** True for a domain in mydestination, an [address] of this host, or none: Postfix's resolve_local. */
  isLocal(domain: string): boolean {
    if (!domain) return true;
    if (domain.startsWith('[') && domain.endsWith(']')) {
      const ip = domain.slice(1, -1).replace(/^ipv6:/i, '');
      return this.own.has(ip.toLowerCase());
    }
    return this.mydestination.match(domain);
  }

  /** transport(5): the first hit among address, domain, ".parent"s, "*" updates transport and nexthop. */
  private applyTransportMaps(table: LookupTable, address: string, domain: string, transport: string, nexthop: string) {
    const keys: string[] = [];
    if (domain) {
      keys.push(address.toLowerCase(), domain);
      for (let rest = domain, dot = rest.indexOf('.'); dot > 0; dot = rest.indexOf('.')) {
        rest = rest.slice(dot + 1);
        if (rest) keys.push(`.${rest}`);
      }
    } else {
      keys.push(address.toLowerCase());
    }
    keys.push('*');
    for (let i = 0; i < keys.length; i++) {
      // Only the full address reaches pattern tables; domains and "*" are partial keys.
      const value = lookup(table, keys[i], i > 0);
      if (value === undefined) continue;
      const t = splitTransport(value);
      if (t.transport === '') {
        // ":nexthop" keeps the class's transport; an empty nexthop keeps its nexthop too.
        return { transport, nexthop: t.nexthop || nexthop };
      }
      // A new transport resets the nexthop to the recipient domain unless one is given.
      const undeliverable = t.transport === 'error' || t.transport === 'retry';
      return { transport: t.transport, nexthop: t.nexthop || (undeliverable ? 'Address is undeliverable' : domain || this.myhostname) };
    }
    return { transport, nexthop };
  }
}
