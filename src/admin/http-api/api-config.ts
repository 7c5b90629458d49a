/**
 * api-config: the HTTP API's parameters read into one settings object:
 * http_api_listen (host:port, [ipv6]:port or port; empty = off; a bare
 * port binds loopback only, not every address as metrics_listen does),
 * http_api_token_file (bearer tokens, one a line; blank lines and # comments
 * skipped), http_api_public_health, http_api_tls_cert_file and
 * http_api_tls_key_file (both or neither).
 *
 * Errors: readApiConfig throws HttpApiConfigError (ERR_HTTP_API_CONFIG) with
 * one line naming the parameter: a malformed address, a token file that
 * cannot be read or holds no token, one TLS file without the other, and a
 * non-loopback address without a token file (the API can hold and delete
 * mail: open to the network it would be a remote kill switch).
 */
import { readFileSync } from 'node:fs';
import { isIP } from 'node:net';
import type { MainConfig } from '../../config/main-config.js';
import { MetricsListenError, parseMetricsListen, type MetricsAddress } from '../metrics-listen.js';

export class HttpApiConfigError extends Error {
  readonly code = 'ERR_HTTP_API_CONFIG';
  constructor(message: string) {
    super(message);
    this.name = 'HttpApiConfigError';
  }
}

export interface HttpApiSettings {
  address: MetricsAddress & { host: string };
  /** Accepted bearer tokens; empty: no token asked (loopback only). */
  tokens: string[];
  publicHealth: boolean;
  tls?: { cert: Buffer; key: Buffer };
}

/** True for an address only this host can reach. */
export function isLoopback(host: string): boolean {
  if (host === 'localhost' || host === '::1') return true;
  return isIP(host) === 4 && host.startsWith('127.');
}

/** The API's settings, or undefined when http_api_listen is empty. */
export function readApiConfig(main: MainConfig): HttpApiSettings | undefined {
  let parsed: MetricsAddress | undefined;
  try {
    parsed = parseMetricsListen(main.get('http_api_listen'), 'http_api_listen');
  } catch (err) {
    if (err instanceof MetricsListenError) throw new HttpApiConfigError(err.message);
    throw err;
  }
  if (!parsed) return undefined;
  const address = { port: parsed.port, host: parsed.host ?? '127.0.0.1' };
  const tokenFile = main.path('http_api_token_file');
  let tokens: string[] = [];
  if (tokenFile) {
    try {
      tokens = readFileSync(tokenFile, 'utf8')
        .split('\n')
        .map((l) => l.trim())
        .filter((l) => l !== '' && !l.startsWith('#'));
    } catch (err) {
      throw new HttpApiConfigError(`http_api_token_file = ${tokenFile}: ${(err as Error).message}`);
    }
    if (tokens.length === 0) throw new HttpApiConfigError(`http_api_token_file = ${tokenFile}: no token in the file`);
  } else if (!isLoopback(address.host)) {
    throw new HttpApiConfigError(`http_api_listen = ${main.get('http_api_listen')}: not a loopback address, and http_api_token_file is not set`);
  }
  const certFile = main.path('http_api_tls_cert_file');
  const keyFile = main.path('http_api_tls_key_file');
  let tls: HttpApiSettings['tls'];
  if (certFile || keyFile) {
    if (!certFile || !keyFile) throw new HttpApiConfigError('http_api_tls_cert_file and http_api_tls_key_file go together: set both or neither');
    try {
      tls = { cert: readFileSync(certFile), key: readFileSync(keyFile) };
    } catch (err) {
      throw new HttpApiConfigError(`http_api_tls: ${(err as Error).message}`);
    }
  }
  return { address, tokens, publicHealth: main.bool('http_api_public_health'), tls };
}
