/**
 * sasl-passwd: the secrets behind AUTH PLAIN / LOGIN (smtpd checks them,
 * `postrider saslpasswd` writes them). A user's secret is kept in the
 * table named by smtpd_sasl_password_maps as an scrypt hash:
 *
 *   user  scrypt$N$r$p$SALT$HASH      (SALT and HASH base64, HASH 32 bytes)
 *
 * verifySecret() never throws: a malformed hash is simply not a match.
 * verifyLogin() is what AUTH uses: a user no table lists, or one whose
 * hash is unusable, is checked against dummyHash() (a hash of a random
 * secret with the same cost, made once per process), so that a failed
 * login costs one scrypt run either way and its timing does not tell
 * which users exist.
 * saslAddUser() (behind `postrider saslpasswd FILE USER`) appends or
 * replaces the user's line and writes the file atomically (tmp + fsync +
 * rename); it throws SaslFileError with a stable code on I/O trouble.
 * Secrets are never logged or kept beyond the call.
 */
import { randomBytes, scrypt, scryptSync, timingSafeEqual, type ScryptOptions } from 'node:crypto';
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

const N = 16384;
const R = 8;
const P = 1;
const KEY_LENGTH = 32;
/** Upper bounds keep a hostile table entry from costing the process minutes or gigabytes. */
const MAX_N = 1 << 20;
const MAX_RP = 64;

export class SaslFileError extends Error {
  readonly code = 'ERR_SASL_FILE';
}

/** Hashes a secret as `scrypt$N$r$p$salt$hash` (base64 salt and hash). */
export function hashSecret(secret: string): string {
  const salt = randomBytes(16);
  const hash = scryptSync(secret, salt, KEY_LENGTH, { N, r: R, p: P, maxmem: 256 * N * R });
  return `scrypt$${N}$${R}$${P}$${salt.toString('base64')}$${hash.toString('base64')}`;
}

/** True when `secret` matches `hash` (constant-time compare); false on any malformed hash. */
export function verifySecret(secret: string, hash: string): boolean {
  const h = parseHash(hash);
  if (!h) return false;
  try {
    return timingSafeEqual(scryptSync(secret, h.salt, h.expected.length, h.options), h.expected);
  } catch {
    return false;
  }
}

/** The parts of a "scrypt$N$r$p$salt$hash" string, undefined when malformed or its cost is out of bounds. */
function parseHash(hash: string): { salt: Buffer; expected: Buffer; options: ScryptOptions } | undefined {
  const parts = hash.trim().split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const n = Number(parts[1]);
  const r = Number(parts[2]);
  const p = Number(parts[3]);
  if (!Number.isInteger(n) || n < 2 || n > MAX_N || (n & (n - 1)) !== 0) return undefined;
  if (!Number.isInteger(r) || r < 1 || r > MAX_RP || !Number.isInteger(p) || p < 1 || p > MAX_RP) return undefined;
  const salt = Buffer.from(parts[4], 'base64');
  const expected = Buffer.from(parts[5], 'base64');
  if (salt.length === 0 || expected.length < 16) return undefined;
  return { salt, expected, options: { N: n, r, p, maxmem: 256 * n * r + 1024 * 1024 } };
}

/**
 * Adds or replaces `user` in a text table file (`user hash` lines; comments
 * and other lines are kept). Creates the file (mode 0600) when missing.
 */
export function saslAddUser(file: string, user: string, secret: string): void {
  if (!user || /[\s#]/.test(user)) throw new SaslFileError(`saslpasswd: bad user name "${user}"`);
  let lines: string[] = [];
  try {
    lines = readFileSync(file, 'utf8').split('\n');
    if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw new SaslFileError(`saslpasswd: ${file}: ${(err as Error).message}`);
  }
  const entry = `${user} ${hashSecret(secret)}`;
  const lower = user.toLowerCase();
  let replaced = false;
  const out = lines.map((line) => {
    const key = line.trim().split(/\s+/)[0] ?? '';
    if (!line.trim().startsWith('#') && key.toLowerCase() === lower) {
      replaced = true;
      return entry;
    }
    return line;
  });
  if (!replaced) out.push(entry);
  const tmp = `${file}.${process.pid}.tmp`;
  try {
    const fd = openSync(tmp, 'w', 0o600);
    try {
      writeSync(fd, out.join('\n') + '\n');
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
    const dfd = openSync(dirname(file), 'r');
    try {
      fsyncSync(dfd);
    } finally {
      closeSync(dfd);
    }
  } catch (err) {
    throw new SaslFileError(`saslpasswd: ${file}: ${(err as Error).message}`);
  }
}

/** As verifySecret, off the event loop (crypto.scrypt on the libuv pool): what the server uses. */
export function verifySecretAsync(secret: string, hash: string): Promise<boolean> {
  const h = parseHash(hash);
  if (!h) return Promise.resolve(false);
  return new Promise((resolve) => {
    scrypt(secret, h.salt, h.expected.length, h.options, (err, actual) => {
      resolve(!err && timingSafeEqual(actual, h.expected));
    });
  });
}

let dummy: string | undefined;

/** A hash of a random secret, with the cost hashSecret() uses; made on first use, the same for the life of the process. */
export function dummyHash(): string {
  dummy ??= hashSecret(randomBytes(24).toString('base64'));
  return dummy;
}

/**
 * Checks `secret` for `user`: `lookup` gives the user's stored hash (or
 * undefined). A miss, or a hash that does not parse, is checked against
 * dummyHash() through the same `verify` and then fails, so every failure
 * runs the same key derivation. `verify` is verifySecretAsync unless a
 * caller (a test) wraps it.
 */
export async function verifyLogin(
  lookup: (user: string) => string | undefined,
  user: string,
  secret: string,
  verify: (secret: string, hash: string) => Promise<boolean> = verifySecretAsync,
): Promise<boolean> {
  const hash = lookup(user);
  if (hash !== undefined && parseHash(hash)) return verify(secret, hash);
  await verify(secret, dummyHash());
  return false;
}
