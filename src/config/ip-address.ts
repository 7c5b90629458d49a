/**
 * ip-address: IPv4/IPv6 parsing to big integers and CIDR matching, for cidr:
 * tables, client lookups and mynetworks-style lists. Parsers return null on
 * malformed input; nothing throws.
 */
import { isIPv4, isIPv6 } from 'node:net';

/** An address as a 32-bit (IPv4) or 128-bit (IPv6) integer. */
export interface IpValue {
  family: 4 | 6;
  value: bigint;
}

/** A network: address, prefix length. */
export interface IpNetwork {
  family: 4 | 6;
  value: bigint;
  prefix: number;
}

const MAPPED_PREFIX = 0xffffn << 32n;

/** Parses a bare IPv4 or IPv6 address (brackets and a %zone suffix are accepted). */
export function parseIp(text: string): IpValue | null {
  let s = text.trim();
  if (s.startsWith('[') && s.endsWith(']')) s = s.slice(1, -1);
  if (s.toLowerCase().startsWith('ipv6:')) s = s.slice(5);
  const pct = s.indexOf('%');
  if (pct >= 0) s = s.slice(0, pct);
  if (isIPv4(s)) {
    const parts = s.split('.').map(Number);
    return { family: 4, value: BigInt(((parts[0] << 24) >>> 0) + (parts[1] << 16) + (parts[2] << 8) + parts[3]) };
  }
  if (!isIPv6(s)) return null;
  const lastColon = s.lastIndexOf(':');
  const v4Tail = s.slice(lastColon + 1);
  if (v4Tail.includes('.')) {
    // An embedded IPv4 tail (::ffff:1.2.3.4) becomes two hex groups.
    const v4 = v4Tail.split('.').map(Number);
    s = s.slice(0, lastColon + 1) + ((v4[0] << 8) | v4[1]).toString(16) + ':' + ((v4[2] << 8) | v4[3]).toString(16);
  }
  let groups: number[];
  const dbl = s.indexOf('::');
  const hex = (g: string): number[] => (g === '' ? [] : g.split(':').map((x) => parseInt(x, 16)));
  if (dbl >= 0) {
    const head = hex(s.slice(0, dbl));
    const rest = hex(s.slice(dbl + 2));
    const fill = 8 - head.length - rest.length;
    if (fill < 0) return null;
    groups = [...head, ...new Array<number>(fill).fill(0), ...rest];
  } else {
    groups = hex(s);
  }
  if (groups.length !== 8 || groups.some((g) => !(g >= 0 && g <= 0xffff))) return null;
  let v = 0n;
  for (const g of groups) v = (v << 16n) | BigInt(g);
  return { family: 6, value: v };
}

/**
 * Parses "address/prefix" or a bare address (a host network). Returns an
 * error string when the host bits are not zero, as Postfix refuses those.
 */
export function parseNetwork(text: string): IpNetwork | string | null {
  let s = text.trim();
  let prefixText: string | undefined;
  const slash = s.lastIndexOf('/');
  if (slash >= 0) {
    prefixText = s.slice(slash + 1);
    s = s.slice(0, slash);
  }
  const ip = parseIp(s);
  if (!ip) return null;
  const bits = ip.family === 4 ? 32 : 128;
  let prefix = bits;
  if (prefixText !== undefined) {
    if (!/^\d{1,3}$/.test(prefixText)) return null;
    prefix = Number(prefixText);
    if (prefix > bits) return null;
  }
  const hostMask = (1n << BigInt(bits - prefix)) - 1n;
  if ((ip.value & hostMask) !== 0n) {
    const net = formatIp({ family: ip.family, value: ip.value & ~hostMask });
    return `non-null host address bits in "${text.trim()}", perhaps you should use "${net}/${prefix}" instead`;
  }
  return { family: ip.family, value: ip.value, prefix };
}

/** True when the address lies in the network; IPv4-mapped IPv6 addresses match IPv4 networks. */
export function networkContains(net: IpNetwork, ip: IpValue): boolean {
  let addr = ip;
  if (net.family === 4 && isMapped(ip)) {
    addr = { family: 4, value: ip.value & 0xffffffffn };
  }
  if (addr.family !== net.family) return false;
  const bits = net.family === 4 ? 32 : 128;
  const shift = BigInt(bits - net.prefix);
  return addr.value >> shift === net.value >> shift;
}

/** Text form: dotted quad, or lower-case IPv6 with the longest zero run compressed to "::". */
export function formatIp(ip: IpValue): string {
  if (ip.family === 4) {
    const v = Number(ip.value);
    return [v >>> 24, (v >>> 16) & 255, (v >>> 8) & 255, v & 255].join('.');
  }
  const groups: string[] = [];
  for (let k = 7; k >= 0; k--) groups.push(((ip.value >> BigInt(k * 16)) & 0xffffn).toString(16));
  // Compress the longest run of zero groups, as inet_ntop does.
  let best = -1;
  let bestLen = 1;
  for (let k = 0; k < 8; ) {
    if (groups[k] !== '0') {
      k++;
      continue;
    }
    let e = k;
    while (e < 8 && groups[e] === '0') e++;
    if (e - k > bestLen) {
      best = k;
      bestLen = e - k;
    }
    k = e;
  }
  if (best < 0) return groups.join(':');
  return groups.slice(0, best).join(':') + '::' + groups.slice(best + bestLen).join(':');
}

/** True for an IPv4-mapped IPv6 value (::ffff:a.b.c.d). */
export function isMapped(ip: IpValue): boolean {
  return ip.family === 6 && (ip.value & ~0xffffffffn) === MAPPED_PREFIX;
}
