/**
 * smtp-tls-options: the node:tls options of one STARTTLS, from main.cf and
 * the attempt's TLS policy: the trust store (smtp_tls_CAfile and the
 * certificates of smtp_tls_CApath; neither set: the system's roots), the
 * client certificate (smtp_tls_cert_file, smtp_tls_key_file), the protocol
 * range (policy protocols=, else smtp_tls_protocols at "may" and
 * smtp_tls_mandatory_protocols above it) and the cipher grade (ciphers=,
 * else smtp_tls_ciphers / smtp_tls_mandatory_ciphers) as Postfix's
 * cipherlists. Certificates are never rejected by node:tls itself
 * (rejectUnauthorized is false): checkPeer decides after the handshake, so
 * that each level gets Postfix's reason and "may" is not refused.
 * Files are read once per thread. tlsOptions throws an Error naming the
 * parameter when a file cannot be read or a list is malformed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ConnectionOptions } from 'node:tls';
import { tlsVersionRange, type TlsVersion } from '../../config/tls-protocols.js';
import type { TlsPolicy } from './smtp-tls-policy-types.js';

/** Postfix's cipher grades and their default OpenSSL cipher lists (tls_high_cipherlist, ...). */
export const CIPHER_GRADES: Record<string, string> = {
  high: 'aNULL:-aNULL:HIGH:@STRENGTH',
  medium: 'aNULL:-aNULL:HIGH:MEDIUM:+RC4:@STRENGTH',
  low: 'aNULL:-aNULL:HIGH:MEDIUM:LOW:+RC4:@STRENGTH',
  export: 'aNULL:-aNULL:HIGH:MEDIUM:LOW:EXPORT:+RC4:@STRENGTH',
  null: 'eNULL:!aNULL',
};

/** The main.cf settings read here. */
export interface TlsFileParams {
  tlsCAfile: string;
  tlsCApath: string;
  tlsCertFile: string;
  tlsKeyFile: string;
  /** smtp_tls_protocols / smtp_tls_mandatory_protocols and the cipher grades, as written. */
  tlsProtocols: string[];
  tlsMandatoryProtocols: string[];
  tlsCiphers: string;
  tlsMandatoryCiphers: string;
}

const files = new Map<string, Buffer>();
function readOnce(file: string): Buffer {
  let data = files.get(file);
  if (!data) {
    data = readFileSync(file);
    files.set(file, data);
  }
  return data;
}

const dirs = new Map<string, Buffer[]>();
/** The PEM files of a CA directory (c_rehash links and *.pem / *.crt files), read once. */
function readCApath(dir: string): Buffer[] {
  let certs = dirs.get(dir);
  if (!certs) {
    certs = readdirSync(dir)
      .filter((f) => /\.(pem|crt)$|^[0-9a-f]{8}\.\d+$/i.test(f))
      .sort()
      .map((f) => readFileSync(join(dir, f)))
      .filter((b) => b.includes('-----BEGIN CERTIFICATE-----'));
    dirs.set(dir, certs);
  }
  return certs;
}

/** Postrider's floor: nothing older than TLS 1.2 is offered, whatever the lists allow. */
const FLOOR: TlsVersion = 'TLSv1.2';
const ORDER: TlsVersion[] = ['TLSv1', 'TLSv1.1', 'TLSv1.2', 'TLSv1.3'];

/** The ConnectionOptions for a STARTTLS under `policy`. */
export function tlsOptions(params: TlsFileParams, policy: TlsPolicy): ConnectionOptions {
  const opportunistic = policy.level === 'may';
  // node:tls would fold its own host name check into `authorized`: the names are checkPeer's, by the policy's match strategies.
  const opts: ConnectionOptions = { rejectUnauthorized: false, checkServerIdentity: () => undefined };
  const list = policy.protocols ? policy.protocols.split(':') : opportunistic ? params.tlsProtocols : params.tlsMandatoryProtocols;
  const name = policy.protocols ? 'protocols' : opportunistic ? 'smtp_tls_protocols' : 'smtp_tls_mandatory_protocols';
  const range = list.length ? tlsVersionRange(list, name) : { minVersion: FLOOR, maxVersion: 'TLSv1.3' as TlsVersion };
  opts.minVersion = ORDER.indexOf(range.minVersion) < ORDER.indexOf(FLOOR) ? FLOOR : range.minVersion;
  opts.maxVersion = ORDER.indexOf(range.maxVersion) < ORDER.indexOf(FLOOR) ? FLOOR : range.maxVersion;
  const grade = (policy.ciphers ?? (opportunistic ? params.tlsCiphers : params.tlsMandatoryCiphers)).toLowerCase();
  const ciphers = CIPHER_GRADES[grade];
  if (!ciphers) throw new Error(`${policy.ciphers ? 'ciphers' : opportunistic ? 'smtp_tls_ciphers' : 'smtp_tls_mandatory_ciphers'}: unknown cipher grade "${grade}"`);
  opts.ciphers = ciphers;
  const ca: Buffer[] = [];
  // Only verify and secure depend on the CAs; elsewhere they only tell Trusted from Untrusted in the log.
  const needed = policy.level === 'verify' || policy.level === 'secure';
  try {
    if (params.tlsCAfile) ca.push(readOnce(params.tlsCAfile));
  } catch (err) {
    if (needed) throw new Error(`cannot read smtp_tls_CAfile: ${(err as Error).message}`);
  }
  try {
    if (params.tlsCApath) ca.push(...readCApath(params.tlsCApath));
  } catch (err) {
    if (needed) throw new Error(`cannot read smtp_tls_CApath: ${(err as Error).message}`);
  }
  if (ca.length) opts.ca = ca;
  if (params.tlsCertFile) {
    try {
      opts.cert = readOnce(params.tlsCertFile);
      opts.key = readOnce(params.tlsKeyFile || params.tlsCertFile);
    } catch (err) {
      throw new Error(`cannot read smtp_tls_cert_file or smtp_tls_key_file: ${(err as Error).message}`);
    }
  }
  return opts;
}
