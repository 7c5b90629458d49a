/**
 * trivial-rewrite: Postfix's trivial-rewrite(8) as a library.
 *   rewrite(address, role): an envelope address: append_at_myorigin,
 *     sender_canonical_maps or recipient_canonical_maps, canonical_maps (each
 *     as its *_classes say), masquerade_domains (masquerade_classes), then
 *     (recipients only) virtual_alias_maps expansion; one address in, one or
 *     more out.
 *   rewriteHeader(address, role, context): a header address, as Postfix's
 *     cleanup rewrites From:/To: and the like: completed in the "local"
 *     context (@$myorigin, .$mydomain) or the "remote" one
 *     (@$remote_header_rewrite_domain), then the canonical maps and
 *     masquerading as header_sender / header_recipient are in their classes.
 *   resolve(address): address class, transport and nexthop.
 * Both cache their answers (size-capped, no expiry). Errors never throw: rewrite
 * returns `error` with an enhanced status text ("4.6.0 Alias expansion error",
 * "4.3.0 Temporary lookup failure") and the address unchanged; resolve of an
 * address whose tables fail resolves to the "retry" transport, which defers.
 * Opening a table that does not exist throws TableLookupError from the
 * constructor, so a broken configuration is found at start.
 */
import type { MainConfig } from '../../config/main-config.js';
import type { LookupTable } from '../../config/lookup-table.js';
import type { ResolvedAddress } from '../../protocol/protocol.js';
import { splitList } from '../../config/main-config.js';
import { TtlCache } from '../../util/ttl-cache.js';
import { findAddress, splitAddresses, type FindOptions } from './trivial-rewrite-map.js';
import { boolParam, intParam, param, type RewriteParameter } from './trivial-rewrite-params.js';
import { Masquerade } from './trivial-rewrite-masquerade.js';
import { Resolver } from './trivial-rewrite-resolve.js';
import { openMaps, TableLookupError } from './trivial-rewrite-tables.js';
import { AliasExpansionError, expandVirtual, type VirtualOptions } from './trivial-rewrite-virtual.js';

/** What rewrite answers; `error` set means the mail must be deferred with that text. */
export interface RewriteResult {
  addresses: string[];
  error?: string;
}

export type RewriteRole = 'sender' | 'recipient';

/** The rewriting context of a header address: Postfix's "local" and "remote" (remote_header_rewrite_domain). */
export type HeaderContext = 'local' | 'remote';

/** A rewritten header address; `error` as for rewrite (the address then stays). */
export interface HeaderRewriteResult {
  address: string;
  error?: string;
}

/** The address classes of canonical_classes and masquerade_classes. */
type AddressClass = 'envelope_sender' | 'envelope_recipient' | 'header_sender' | 'header_recipient';

/** Enhanced status texts rewrite returns. */
export const REWRITE_ERRORS = {
  EXPANSION: '4.6.0 Alias expansion error',
  LOOKUP: '4.3.0 Temporary lookup failure',
} as const;

/** Entries each answer cache keeps. */
const CACHE_LIMIT = 10_000;

/** Address rewriting and resolution over one configuration. */
export class TrivialRewrite {
  private readonly senderCanonical: LookupTable | undefined;
  private readonly recipientCanonical: LookupTable | undefined;
  private readonly canonical: LookupTable | undefined;
  private readonly virtualAlias: LookupTable | undefined;
  private readonly resolver: Resolver;
  private readonly myorigin: string;
  private readonly appendAtMyorigin: boolean;
  /** append_dot_mydomain: ".$mydomain" for a domain without a dot; '' when off. */
  private readonly dotMydomain: string;
  private readonly canonicalOptions: FindOptions;
  private readonly masquerade: Masquerade;
  private readonly classes: { canonical: Set<string>; sender: Set<string>; recipient: Set<string>; masquerade: Set<string> };
  private readonly remoteDomain: string;
  private readonly virtualOptions: VirtualOptions;
  /** Answers never expire (the tables are read once); the oldest goes first past the cap. */
  private readonly rewriteCache = new TtlCache<RewriteResult>(CACHE_LIMIT, Infinity);
  private readonly resolveCache = new TtlCache<ResolvedAddress>(CACHE_LIMIT, Infinity);

  constructor(config: MainConfig) {
    const dir = config.dir;
    const maps = (name: RewriteParameter) => openMaps(param(config, name), dir, name);
    this.senderCanonical = maps('sender_canonical_maps');
    this.recipientCanonical = maps('recipient_canonical_maps');
    this.canonical = maps('canonical_maps');
    this.virtualAlias = maps('virtual_alias_maps');
    this.resolver = new Resolver(config);
    this.myorigin = param(config, 'myorigin').trim().toLowerCase();
    this.appendAtMyorigin = boolParam(config, 'append_at_myorigin');
    const mydomain = param(config, 'mydomain').trim().toLowerCase();
    this.dotMydomain = boolParam(config, 'append_dot_mydomain') && mydomain ? `.${mydomain}` : '';
    const delimiters = param(config, 'recipient_delimiter').trim();
    const propagate = splitList(param(config, 'propagate_unmatched_extensions').toLowerCase());
    const isLocal = (domain: string): boolean => domain === this.myorigin || this.resolver.isLocal(domain);
    this.canonicalOptions = { delimiters, propagate: propagate.includes('canonical'), isLocal };
    const classes = (name: RewriteParameter): Set<string> => new Set(splitList(param(config, name).toLowerCase()));
    this.classes = {
      canonical: classes('canonical_classes'),
      sender: classes('sender_canonical_classes'),
      recipient: classes('recipient_canonical_classes'),
      masquerade: classes('masquerade_classes'),
    };
    this.masquerade = new Masquerade(param(config, 'masquerade_domains'), param(config, 'masquerade_exceptions'), dir);
    this.remoteDomain = param(config, 'remote_header_rewrite_domain').trim();
    this.virtualOptions = {
      delimiters,
      propagate: propagate.includes('virtual'),
      isLocal,
      recursionLimit: intParam(config, 'virtual_alias_recursion_limit'),
      expansionLimit: intParam(config, 'virtual_alias_expansion_limit'),
      qualify: (a) => this.qualify(a),
    };
  }

  /** Rewrites one address for its role. The null sender "" stays "". */
  rewrite(address: string, role: RewriteRole): RewriteResult {
    if (address === '') return { addresses: [''] };
    const key = role === 'sender' ? `s${address}` : `r${address}`;
    const cached = this.rewriteCache.get(key);
    if (cached) return cached;
    let result: RewriteResult;
    try {
      const a = this.mapOne(this.qualify(address), role, role === 'sender' ? 'envelope_sender' : 'envelope_recipient');
      const addresses = role === 'recipient' && this.virtualAlias ? expandVirtual(this.virtualAlias, a, this.virtualOptions) : [a];
      result = { addresses };
    } catch (err) {
      if (err instanceof AliasExpansionError) return { addresses: [address], error: REWRITE_ERRORS.EXPANSION };
      if (err instanceof TableLookupError) return { addresses: [address], error: REWRITE_ERRORS.LOOKUP };
      throw err;
    }
    this.rewriteCache.set(key, result);
    return result;
  }

  /** Rewrites one header address (see the file comment); an empty address stays empty. */
  rewriteHeader(address: string, role: RewriteRole, context: HeaderContext): HeaderRewriteResult {
    if (address === '') return { address };
    const key = `h${role[0]}${context[0]}${address}`;
    const cached = this.rewriteCache.get(key);
    if (cached) return { address: cached.addresses[0] };
    let result: string;
    try {
      const complete = context === 'local' ? this.qualify(address) : this.qualifyRemote(address);
      result = this.mapOne(complete, role, role === 'sender' ? 'header_sender' : 'header_recipient');
    } catch (err) {
      if (err instanceof TableLookupError) return { address, error: REWRITE_ERRORS.LOOKUP };
      throw err;
    }
    this.rewriteCache.set(key, { addresses: [result] });
    return { address: result };
  }

  /** The one-to-one mappings of an address of a class: sender or recipient canonical, canonical, masquerading. */
  private mapOne(address: string, role: RewriteRole, cls: AddressClass): string {
    let a = address;
    if ((role === 'sender' ? this.classes.sender : this.classes.recipient).has(cls)) {
      a = this.canonicalize(role === 'sender' ? this.senderCanonical : this.recipientCanonical, a);
    }
    if (this.classes.canonical.has(cls)) a = this.canonicalize(this.canonical, a);
    if (this.masquerade.active && this.classes.masquerade.has(cls)) a = this.masquerade.apply(a);
    return a;
  }

  /** The "remote" context: a bare local part gets "@$remote_header_rewrite_domain" (nothing else is appended). */
  private qualifyRemote(address: string): string {
    if (address.includes('@') || !this.remoteDomain) return address;
    return `${address}@${this.remoteDomain}`;
  }

  /** Resolves one recipient to its class, transport and nexthop. */
  resolve(address: string): ResolvedAddress {
    const cached = this.resolveCache.get(address);
    if (cached) return cached;
    let result: ResolvedAddress;
    try {
      result = this.resolver.resolve(address);
    } catch (err) {
      if (!(err instanceof TableLookupError)) throw err;
      // Not cached: the table may answer next time; "retry" makes qmgr defer.
      return { addressClass: 'default', transport: 'retry', nexthop: `4.3.0 ${err.message}`, recipient: address };
    }
    this.resolveCache.set(address, result);
    return result;
  }

  /**
   * append_at_myorigin: a bare local part gets "@$myorigin"; append_dot_mydomain:
   * "user@host" (a domain without a dot, not an address literal) gets ".$mydomain".
   */
  private qualify(address: string): string {
    if (!address.includes('@')) {
      if (!this.appendAtMyorigin || !this.myorigin) return address;
      address = `${address}@${this.myorigin}`;
    }
    if (!this.dotMydomain) return address;
    const at = address.lastIndexOf('@');
    const domain = address.slice(at + 1);
    if (!domain || domain.includes('.') || domain.startsWith('[')) return address;
    return address + this.dotMydomain;
  }

  /** One-to-one canonical mapping; the result is qualified again as Postfix does. */
  private canonicalize(table: LookupTable | undefined, address: string): string {
    if (!table) return address;
    const hit = findAddress(table, address, this.canonicalOptions);
    if (!hit) return address;
    const first = splitAddresses(hit.value)[0];
    return first ? this.qualify(hit.apply(first)) : address;
  }
}
