/**
 * cli-saslpasswd: `postrider saslpasswd FILE USER`: reads the secret from
 * standard input (one line) and adds or replaces USER's scrypt hash in the
 * texthash table FILE that smtpd_sasl_password_maps names. The secret is
 * never echoed or logged.
 */
import { isAbsolute, resolve } from 'node:path';
import { saslAddUser } from '../global/sasl-passwd.js';
import { CliError } from './cli-error.js';

export async function saslpasswd(dir: string, args: string[]): Promise<number> {
  const [file, user] = args;
  if (!file || !user) throw new CliError('usage: postrider saslpasswd FILE USER (secret on standard input)');
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  const secret = Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0];
  if (!secret) throw new CliError('saslpasswd: no secret on standard input');
  saslAddUser(isAbsolute(file) ? file : resolve(dir, file), user, secret);
  return 0;
}
