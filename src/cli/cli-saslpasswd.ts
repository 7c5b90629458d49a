/**
 * cli-saslpasswd: `postrider saslpasswd FILE USER`: adds or replaces USER's
 * scrypt hash in the texthash table FILE that smtpd_sasl_password_maps
 * names. FILE is a path as given (relative to the current directory, as
 * saslpasswd2's -f is). On a terminal the secret is asked twice without
 * echo (as saslpasswd2 does) and two different answers are refused;
 * otherwise the first line of standard input is the secret. The secret is
 * never echoed or logged.
 */
import { resolve } from 'node:path';
import { saslAddUser } from '../global/sasl-passwd.js';
import { CliError, UsageError } from './cli-error.js';

async function firstLineOfStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const c of process.stdin) chunks.push(c as Buffer);
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0];
}

/** Asks on standard error and reads one line from the terminal in raw mode, so nothing is echoed. */
function promptNoEcho(prompt: string): Promise<string> {
  const stdin = process.stdin;
  // Echo goes off before the prompt shows, so an answer typed at once is not echoed either.
  stdin.setRawMode(true);
  process.stderr.write(prompt);
  return new Promise((resolvePromise, reject) => {
    let text = '';
    const done = (err?: Error): void => {
      stdin.setRawMode(false);
      stdin.pause();
      stdin.off('data', onData);
      process.stderr.write('\n');
      if (err) reject(err);
      else resolvePromise(text);
    };
    const onData = (chunk: Buffer): void => {
      for (const ch of chunk.toString('utf8')) {
        if (ch === '\r' || ch === '\n') return done();
        if (ch === '\u0003' || ch === '\u0004') return done(new CliError('saslpasswd: interrupted; nothing changed'));
        if (ch === '\u007f' || ch === '\b') text = text.slice(0, -1);
        else if (ch === '\u0015') text = '';
        else text += ch;
      }
    };
    stdin.resume();
    stdin.on('data', onData);
  });
}

async function readSecret(user: string): Promise<string> {
  if (!process.stdin.isTTY) return firstLineOfStdin();
  const first = await promptNoEcho(`Password for ${user}: `);
  const again = await promptNoEcho('Again (for verification): ');
  if (first !== again) throw new CliError('saslpasswd: the two secrets differ; nothing changed');
  return first;
}

export async function saslpasswd(args: string[]): Promise<number> {
  const [file, user, extra] = args;
  if (!file || !user || extra !== undefined) throw new UsageError('usage: postrider saslpasswd FILE USER');
  const secret = await readSecret(user);
  if (!secret) throw new CliError('saslpasswd: empty secret; nothing changed');
  saslAddUser(resolve(file), user, secret);
  return 0;
}
