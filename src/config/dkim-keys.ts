/**
 * dkim-keys: OpenDKIM's KeyTable and SigningTable, read through Postrider's
 * lookup tables, for DKIM signing (dkim_key_table, dkim_signing_table) and
 * ARC sealing (arc_key_table, arc_signing_table).
 *
 *   KeyTable:     sel._domainkey.example.com  example.com:sel:/path/key.pem
 *   SigningTable: example.com                 sel._domainkey.example.com
 *
 * A key file holds an RSA (1024 bits or more; 2048 is the norm) or Ed25519
 * private key in PEM, or an Ed25519 key as dkimpy's dknewkey writes it (the
 * base64 of the 32-byte seed). A relative path is read from the
 * configuration directory.
 *
 * SigningKeys(keyTable, signingTable, dir) reads every key the key table
 * lists when the table can list its entries (texthash, hash, inline), so a
 * missing or unreadable key is an error at start, reload and `check`; keys
 * of pattern tables are read on first use and cached. Errors are
 * DkimKeyError (code ERR_DKIM_KEY) naming the parameter, the key and the
 * file. lookup(address) tries the address, then its domain, as OpenDKIM's
 * SigningTable does for exact entries; the value names one or more keys
 * (comma or space separated), each giving one signature.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { openTableList, TableList, type LookupTable } from './lookup-table.js';

/** One signing key, ready for mailauth (pem is PKCS#8). */
export interface SigningKey {
  /** The KeyTable's key name. */
  name: string;
  domain: string;
  selector: string;
  file: string;
  pem: string;
  algorithm: 'rsa-sha256' | 'ed25519-sha256';
}

export class DkimKeyError extends Error {
  readonly code = 'ERR_DKIM_KEY';
}

/** The PKCS#8 prefix of an Ed25519 private key whose 32-byte seed follows. */
const ED25519_PKCS8_PREFIX = Buffer.from('302e020100300506032b657004220420', 'hex');

/** Reads one key file; throws DkimKeyError naming the file. */
export function readSigningKeyFile(file: string): { pem: string; algorithm: SigningKey['algorithm'] } {
  let raw: Buffer;
  try {
    raw = readFileSync(file);
  } catch (err) {
    throw new DkimKeyError(`cannot read key file ${file}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  let key: KeyObject;
  try {
    const text = raw.toString('utf8').trim();
    if (text.includes('-----BEGIN')) key = createPrivateKey(text);
    else {
      const seed = Buffer.from(text, 'base64');
      if (seed.length !== 32) throw new Error('neither PEM nor a base64 Ed25519 seed');
      key = createPrivateKey({ key: Buffer.concat([ED25519_PKCS8_PREFIX, seed]), format: 'der', type: 'pkcs8' });
    }
  } catch (err) {
    throw new DkimKeyError(`key file ${file}: not a private key (${(err as Error).message})`);
  }
  const type = key.asymmetricKeyType;
  if (type === 'rsa') {
    const bits = key.asymmetricKeyDetails?.modulusLength ?? 0;
    if (bits < 1024) throw new DkimKeyError(`key file ${file}: RSA key of ${bits} bits (at least 1024 needed; use 2048)`);
  } else if (type !== 'ed25519') {
    throw new DkimKeyError(`key file ${file}: ${type ?? 'unknown'} key (RSA or Ed25519 needed)`);
  }
  return { pem: key.export({ format: 'pem', type: 'pkcs8' }).toString(), algorithm: type === 'rsa' ? 'rsa-sha256' : 'ed25519-sha256' };
}

/** A KeyTable and its SigningTable. */
export class SigningKeys {
  private readonly keyTable: LookupTable;
  private readonly signingTable: LookupTable;
  private readonly keys = new Map<string, SigningKey>();

  /** `names`: the two parameters, for error texts (dkim_key_table, dkim_signing_table). */
  constructor(keyTableSpec: string, signingTableSpec: string, private readonly dir: string, private readonly names: [string, string] = ['dkim_key_table', 'dkim_signing_table']) {
    if (!keyTableSpec.trim()) throw new DkimKeyError(`${names[1]} is set but ${names[0]} is empty`);
    try {
      this.keyTable = openTableList(keyTableSpec, dir);
      this.signingTable = openTableList(signingTableSpec, dir);
    } catch (err) {
      throw new DkimKeyError(`${names[0]}/${names[1]}: ${(err as Error).message}`);
    }
    // Listable tables: every key now, so a bad one shows at start and in check.
    for (const v of listedValues(this.keyTable)) this.parse(v, v);
    for (const v of listedValues(this.signingTable)) for (const name of splitNames(v)) this.key(name);
  }

  /** The keys for mail from `address` (the address, then its domain); [] when none. */
  lookup(address: string): SigningKey[] {
    const a = address.trim().toLowerCase();
    const at = a.lastIndexOf('@');
    let value = a ? this.signingTable.get(a) : undefined;
    if (value === undefined && at >= 0) value = this.signingTable.get(a.slice(at + 1));
    if (value === undefined) return [];
    return splitNames(value).map((name) => this.key(name));
  }

  private key(name: string): SigningKey {
    const known = this.keys.get(name.toLowerCase());
    if (known) return known;
    const value = this.keyTable.get(name);
    if (value === undefined) throw new DkimKeyError(`${this.names[1]}: key "${name}" is not in ${this.names[0]}`);
    return this.parse(name, value);
  }

  private parse(name: string, value: string): SigningKey {
    const m = /^([^:\s]+):([^:\s]+):(.+)$/.exec(value.trim());
    if (!m) throw new DkimKeyError(`${this.names[0]}: key "${name}": "${value}" is not domain:selector:keyfile`);
    const file = isAbsolute(m[3]) ? m[3] : join(this.dir, m[3]);
    let read;
    try {
      read = readSigningKeyFile(file);
    } catch (err) {
      throw new DkimKeyError(`${this.names[0]}: ${(err as Error).message}`);
    }
    const key: SigningKey = { name, domain: m[1].toLowerCase(), selector: m[2], file, ...read };
    this.keys.set(name.toLowerCase(), key);
    return key;
  }
}

function splitNames(value: string): string[] {
  return value.split(/[\s,]+/).filter(Boolean);
}

/** The values of the tables of a list that can list theirs (pattern tables cannot). */
function listedValues(table: LookupTable): string[] {
  const tables = table instanceof TableList ? table.tables : [table];
  return tables.flatMap((t) => t.values?.() ?? []);
}
