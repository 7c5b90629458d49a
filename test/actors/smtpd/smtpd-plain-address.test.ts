/**
 * The plain MAIL FROM / RCPT TO reader gives smtp-server's result exactly:
 * on random commands (verbs in any case and spacing, local parts and
 * domains from an alphabet with dots, dashes, quotes, controls, non-ASCII,
 * A-labels, IP literals and parameters), whenever the reader answers, the
 * library's own _parseAddressCommand answers the same; and the everyday
 * forms are the ones it reads.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SMTPConnection } from 'smtp-server/lib/smtp-connection.js';
import { plainAddressCommand } from '../../../src/actors/smtpd/smtpd-plain-address.js';
import { prng } from '../../helpers/prng.js';

/** The library's parser, run with what it reads of its connection: the server's options and logger. */
function library(name: string, command: string): unknown {
  const connection = { _server: { options: {}, logger: { error: () => undefined } }, session: {}, id: 'test' };
  return (SMTPConnection.prototype._parseAddressCommand as (this: unknown, n: string, c: string) => unknown).call(connection, name, command);
}

test('the everyday forms are read, as the library reads them', () => {
  for (const [name, command] of [
    ['mail from', 'MAIL FROM:<alice@example.com>'],
    ['rcpt to', 'RCPT TO:<bob.smith+tag@mx.example.org>'],
    ['rcpt to', 'rcpt to:<o\'hara@sub-domain.example>'],
  ] as const) {
    const plain = plainAddressCommand(name, command);
    assert.ok(plain, command);
    assert.deepEqual(plain, library(name, command));
  }
  // Not plain: parameters, the null sender, a bare local part, an IP literal, an A-label, a quoted local part.
  for (const [name, command] of [
    ['mail from', 'MAIL FROM:<a@example.com> SIZE=100'],
    ['mail from', 'MAIL FROM:<>'],
    ['rcpt to', 'RCPT TO:<postmaster>'],
    ['rcpt to', 'RCPT TO:<u@[192.0.2.1]>'],
    ['rcpt to', 'RCPT TO:<u@xn--bcher-kva.example>'],
    ['rcpt to', 'RCPT TO:<"a b"@example.com>'],
    ['rcpt to', 'MAIL FROM:<a@example.com>'],
  ] as const) {
    assert.equal(plainAddressCommand(name, command), undefined, command);
  }
});

test('on 20,000 random commands the reader answers only what the library answers alike', () => {
  const r = prng(0x5eed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)];
  const verbs = { 'mail from': ['MAIL FROM:', 'mail from:', 'Mail From:', 'MAIL FROM :', 'MAIL FROM: ', 'MAIL  FROM:'], 'rcpt to': ['RCPT TO:', 'rcpt to:', 'RCPT TO :', 'RCPT TO: '] };
  const localChars = ['a', 'b', 'z', 'A', '0', '9', '.', '.', '-', '_', '+', '=', "'", '!', '#', '~', '"', ' ', ':', ',', '(', '\u0001', '\u007f', 'é', '<', '@'];
  const domainChars = ['a', 'b', 'm', 'x', 'Z', '0', '7', '.', '.', '-', '-', '_', '[', ']', ':', 'é', ' ', 'xn--'];
  const word = (chars: string[], max: number): string => Array.from({ length: Math.floor(r() * max) }, () => pick(chars)).join('');
  let read = 0;
  for (let i = 0; i < 20_000; i++) {
    const name = r() < 0.5 ? 'mail from' : 'rcpt to';
    // Mostly well-formed pieces with a sprinkling of the odd ones.
    const local = r() < 0.6 ? `${pick(['a', 'jo', 'x.y', 'u+t'])}${word(['a', '1', '.', '-'], 4)}` : word(localChars, 12);
    const domain = r() < 0.6 ? `${pick(['ex', 'mx.ex', 'a-b.c'])}${word(['a', '.', '-', '1'], 5)}${pick(['.org', '.test', '', '.'])}` : word(domainChars, 14);
    const long = r() < 0.03 ? 'l'.repeat(240) : '';
    const address = pick([`${long}${local}@${domain}`, `${local}@${domain}`, `${local}`, `@relay.example:${local}@${domain}`, '']);
    const tail = pick(['', '', '', ' ', ' SIZE=10', ' BODY=8BITMIME', '>']);
    const open = pick(['<', '<', '<', '']);
    const close = pick(['>', '>', '>', '']);
    // Half of them near the plain form: its verb in some case, the brackets, no parameter.
    const nearPlain = r() < 0.5;
    const verb = nearPlain ? pick(verbs[name].slice(0, 3)) : pick(r() < 0.9 ? verbs[name] : [...verbs['mail from'], ...verbs['rcpt to']]);
    const clean = `${pick(['a', 'jo', 'x.y', 'u+t', "o'h"])}${word(['a', '1', '_'], 4)}@${pick(['ex', 'mx.ex', 'a-b.c', 'Z9'])}${pick(['.org', '.test', '.xn--p1ai', ''])}`;
    const command = nearPlain ? `${verb}<${r() < 0.6 ? clean : address}>` : `${verb}${open}${address}${close}${tail}`;
    const plain = plainAddressCommand(name, command);
    if (plain === undefined) continue;
    read++;
    assert.deepEqual(plain, library(name, command), JSON.stringify(command));
  }
  assert.ok(read > 3_000, `the reader answered ${read} of 20,000`);
});
