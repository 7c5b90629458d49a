/**
 * smtpd-dns: the DNS questions smtpd asks: the client's reverse name
 * (forward-confirmed, else "unknown"), whether a domain exists for mail
 * (A, AAAA or MX), and DNSBL listings. One dns.promises.Resolver per Smtpd,
 * using dns_resolver_servers when set ("addr" or "addr:port" or
 * "[v6]:port"). Errors never escape: a failed question is "not found" or
 * "temporary" as the caller needs.
 */
import { promises as dnsPromises } from 'node:dns';
import { isIP } from 'node:net';
import { parseIp } from '../../config/ip-address.js';

/** Outcome of a domain or list question: found, not found, or DNS trouble. */
export type DnsAnswer = 'found' | 'notfound' | 'tempfail';

const NOT_FOUND = new Set(['ENOTFOUND', 'ENODATA', 'NXDOMAIN', 'ENONAME']);

export class SmtpdDns {
  private readonly resolver: dnsPromises.Resolver;
  private readonly explicitServers: boolean;

  constructor(servers: string[], timeoutMs = 2000) {
    this.resolver = new dnsPromises.Resolver({ timeout: timeoutMs, tries: 2 });
    this.explicitServers = servers.length > 0;
    if (servers.length > 0) this.resolver.setServers(servers);
  }

  /**
   * The name to log for a client: its PTR name when that name resolves back
   * to the address, else "unknown". Loopback without configured servers is
   * "localhost" without asking.
   */
  async clientName(addr: string): Promise<string> {
    if (!this.explicitServers && isLoopback(addr)) return 'localhost';
    let names: string[];
    try {
      names = await this.resolver.reverse(addr);
    } catch {
      return 'unknown';
    }
    for (const raw of names.slice(0, 5)) {
      const name = raw.replace(/\.$/, '').toLowerCase();
      if (!/^[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?(\.[a-z0-9_]([a-z0-9_-]*[a-z0-9_])?)*$/.test(name) || name.length > 253) continue;
      try {
        const forward = isIP(addr) === 6 ? await this.resolver.resolve6(name) : await this.resolver.resolve4(name);
        if (forward.some((a) => sameAddress(a, addr))) return name;
      } catch {
        // try the next name
      }
    }
    return 'unknown';
  }

  /** Whether a domain can receive mail: any of MX, A or AAAA. */
  async domainExists(domain: string): Promise<DnsAnswer> {
    let temp = false;
    for (const ask of [
      () => this.resolver.resolveMx(domain),
      () => this.resolver.resolve4(domain),
      () => this.resolver.resolve6(domain),
    ]) {
      try {
        const answer = await ask();
        if (answer.length > 0) return 'found';
      } catch (err) {
        if (!NOT_FOUND.has((err as NodeJS.ErrnoException).code ?? '')) temp = true;
      }
    }
    return temp ? 'tempfail' : 'notfound';
  }

  /** The DNSBL answer for an IPv4 client on `list` (reversed octets + list): 127.x addresses or none. */
  async rblLookup(addr: string, list: string): Promise<string[]> {
    const name = rblQueryName(addr, list);
    if (!name) return [];
    try {
      const answers = await this.resolver.resolve4(name);
      return answers.filter((a) => a.startsWith('127.'));
    } catch {
      return [];
    }
  }
}

/** "1.2.3.4" + "zen.example" -> "4.3.2.1.zen.example"; IPv6 in nibble form; undefined when not an address. */
export function rblQueryName(addr: string, list: string): string | undefined {
  const a = addr.replace(/^::ffff:/i, '');
  if (isIP(a) === 4) return `${a.split('.').reverse().join('.')}.${list}`;
  if (isIP(a) === 6) {
    const nibbles = parseIp(a)!.value.toString(16).padStart(32, '0');
    return `${nibbles.split('').reverse().join('.')}.${list}`;
  }
  return undefined;
}

function isLoopback(addr: string): boolean {
  const a = addr.replace(/^::ffff:/i, '');
  return a.startsWith('127.') || a === '::1';
}

function sameAddress(a: string, b: string): boolean {
  const x = parseIp(a.replace(/^::ffff:/i, ''));
  const y = parseIp(b.replace(/^::ffff:/i, ''));
  return !!x && !!y && x.family === y.family && x.value === y.value;
}
