/**
 * smtp-mta-sts-fetch: one MTA-STS policy (RFC 8461 section 3.3), fetched
 * from https://mta-sts.DOMAIN/.well-known/mta-sts.txt and parsed. The
 * policy host is looked up through the smtp client's own resolver
 * (dns_resolver_servers), its certificate must verify against
 * smtp_mta_sts_CAfile (empty: Node's bundled public roots) and name the
 * policy host, only HTTP 200 with Content-Type text/plain counts, redirects
 * are not followed, and the body is limited to 64 KiB and the whole request
 * to smtp_mta_sts_fetch_timeout. The policy text is parsed with mailauth's
 * parser (its own fetch has no way to take another trust store or
 * resolver). fetchStsPolicy() rejects with StsFetchError, whose `failure`
 * is the RFC 8460 result type a report counts it under.
 */
import { request } from 'node:https';
import { isIP } from 'node:net';
import type { StsPolicy } from './smtp-tls-policy-types.js';

/** RFC 8461 section 3.3: "a maximum size ... of 64 kilobytes". */
export const STS_MAX_POLICY_BYTES = 64 * 1024;
/** RFC 8461 section 3.2: max_age is at most 31557600 seconds (a year). */
const MAX_AGE_LIMIT = 31557600;

export type StsFetchFailure = 'sts-policy-fetch-error' | 'sts-policy-invalid' | 'sts-webpki-invalid';

/** Why a policy could not be had, with the RFC 8460 result type. */
export class StsFetchError extends Error {
  constructor(message: string, readonly failure: StsFetchFailure) {
    super(message);
  }
}

export interface StsFetchOptions {
  /** PEM CA certificates the policy host's certificate must chain to; undefined: Node's public roots. */
  ca?: Buffer;
  timeoutMs: number;
  /** The IPv4/IPv6 addresses of a host name, in order. */
  lookup: (host: string) => Promise<string[]>;
  /** The port of the policy host: 443 (RFC 8461); tests may not change it. */
  port?: number;
}

const CERT_CODES = /^(CERT_|UNABLE_TO_|DEPTH_ZERO|SELF_SIGNED|ERR_TLS_CERT|HOSTNAME_MISMATCH)/;

/** Fetches and parses the policy of `domain` under the TXT record's `id`. */
export async function fetchStsPolicy(domain: string, id: string, opts: StsFetchOptions): Promise<StsPolicy> {
  const host = `mta-sts.${domain}`;
  let addresses: string[];
  try {
    addresses = await opts.lookup(host);
  } catch (err) {
    throw new StsFetchError(`policy host ${host}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, 'sts-policy-fetch-error');
  }
  if (!addresses.length) throw new StsFetchError(`policy host ${host} has no address`, 'sts-policy-fetch-error');
  const text = await get(host, addresses[0], opts);
  return parseStsPolicy(domain, id, text);
}

/** Parses a policy text; rejects with StsFetchError (sts-policy-invalid) naming what is wrong. */
export async function parseStsPolicy(domain: string, id: string, text: string): Promise<StsPolicy> {
  // Imported on first use, as in smtp-mta-sts.ts.
  const { parsePolicy } = await import('mailauth/lib/mta-sts.js');
  let parsed: { mode?: string; mx?: string[]; maxAge?: number };
  try {
    parsed = parsePolicy(text) as typeof parsed;
  } catch (err) {
    throw new StsFetchError(`policy of ${domain}: ${(err as Error).message}`, 'sts-policy-invalid');
  }
  const mode = parsed.mode as StsPolicy['mode'];
  const maxAge = Math.min(parsed.maxAge ?? 0, MAX_AGE_LIMIT);
  return { domain, id, mode, mx: parsed.mx ?? [], maxAge, text };
}

function get(host: string, address: string, opts: StsFetchOptions): Promise<string> {
  const url = `https://${host}/.well-known/mta-sts.txt`;
  return new Promise((resolve, reject) => {
    let done = false;
    const finish = (err: Error | undefined, text?: string) => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (err) {
        req.destroy();
        reject(err);
      } else {
        resolve(text!);
      }
    };
    const req = request({
      host: address,
      family: isIP(address),
      port: opts.port ?? 443,
      path: '/.well-known/mta-sts.txt',
      method: 'GET',
      servername: host,
      headers: { host, 'user-agent': 'postrider', accept: 'text/plain' },
      ca: opts.ca,
      rejectUnauthorized: true,
      // A fresh connection each time: never one verified under other options.
      agent: false,
    }, (res) => {
      if (res.statusCode !== 200) {
        res.resume();
        return finish(new StsFetchError(`${url}: HTTP status ${res.statusCode}`, 'sts-policy-fetch-error'));
      }
      const type = String(res.headers['content-type'] ?? '').split(';')[0].trim().toLowerCase();
      if (type !== 'text/plain') {
        res.resume();
        return finish(new StsFetchError(`${url}: Content-Type ${JSON.stringify(res.headers['content-type'] ?? '')}, not text/plain`, 'sts-policy-invalid'));
      }
      const chunks: Buffer[] = [];
      let size = 0;
      res.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > STS_MAX_POLICY_BYTES) return finish(new StsFetchError(`${url}: policy larger than ${STS_MAX_POLICY_BYTES} bytes`, 'sts-policy-invalid'));
        chunks.push(chunk);
      });
      res.on('end', () => finish(undefined, Buffer.concat(chunks).toString('utf8')));
      res.on('error', (err) => finish(new StsFetchError(`${url}: ${err.message}`, 'sts-policy-fetch-error')));
    });
    req.on('error', (err: NodeJS.ErrnoException) => {
      const webpki = CERT_CODES.test(err.code ?? '');
      finish(new StsFetchError(`${url}: ${err.message}`, webpki ? 'sts-webpki-invalid' : 'sts-policy-fetch-error'));
    });
    const timer = setTimeout(() => finish(new StsFetchError(`${url}: timed out after ${opts.timeoutMs} ms`, 'sts-policy-fetch-error')), opts.timeoutMs);
    req.end();
  });
}
