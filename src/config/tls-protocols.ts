/**
 * tls-protocols: Postfix's TLS protocol lists (smtpd_tls_protocols,
 * smtpd_tls_mandatory_protocols) as the range of versions Node's TLS takes.
 * A list excludes protocols ("!SSLv2, !SSLv3, !TLSv1"), names the ones it
 * allows ("TLSv1.2, TLSv1.3"), or bounds them (">=TLSv1.2", "<=TLSv1.3", as
 * Postfix 3.6 writes it); SSLv2 and SSLv3 do not exist in Node. The allowed
 * versions must form one range, as OpenSSL can only enforce a range.
 * tlsVersionRange throws ConfigError naming the parameter on a list it
 * cannot read or that leaves no version.
 */
import { ConfigError } from './main-config.js';

/** Node's TLS versions, oldest first. */
const VERSIONS = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'] as const;
export type TlsVersion = (typeof VERSIONS)[number];

/** The versions a list allows, as Node's minVersion and maxVersion. */
export interface TlsVersionRange {
  minVersion: TlsVersion;
  maxVersion: TlsVersion;
}

const KNOWN = new Set(['sslv2', 'sslv3', ...VERSIONS.map((v) => v.toLowerCase())]);

function versionIndex(name: string): number {
  return VERSIONS.findIndex((v) => v.toLowerCase() === name.toLowerCase());
}

/** Reads a protocol list; `param` names it in errors. */
export function tlsVersionRange(list: readonly string[], param = 'smtpd_tls_protocols'): TlsVersionRange {
  const excluded = new Set<number>();
  const named: number[] = [];
  let low = 0;
  let high = VERSIONS.length - 1;
  for (const raw of list) {
    const item = raw.trim();
    const bound = /^([<>]=)(.+)$/.exec(item);
    const name = bound ? bound[2] : item.replace(/^!/, '');
    if (!KNOWN.has(name.toLowerCase())) throw new ConfigError(`${param} = ${list.join(', ')}: unknown protocol "${item}"`);
    const i = versionIndex(name);
    if (bound) {
      // SSLv3 counts as older than every TLS version.
      if (bound[1] === '>=') low = Math.max(low, i < 0 ? 0 : i);
      else high = Math.min(high, i < 0 ? -1 : i);
    } else if (item.startsWith('!')) {
      if (i >= 0) excluded.add(i);
    } else if (i >= 0) {
      named.push(i);
    }
  }
  const ok = VERSIONS.map((_, i) => i).filter((i) => i >= low && i <= high && !excluded.has(i) && (named.length === 0 || named.includes(i)));
  if (ok.length === 0) throw new ConfigError(`${param} = ${list.join(', ')}: no TLS protocol is left`);
  for (let k = 1; k < ok.length; k++) {
    if (ok[k] !== ok[k - 1] + 1) throw new ConfigError(`${param} = ${list.join(', ')}: the allowed protocols must be one range`);
  }
  return { minVersion: VERSIONS[ok[0]], maxVersion: VERSIONS[ok[ok.length - 1]] };
}
