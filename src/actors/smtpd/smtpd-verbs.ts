/**
 * smtpd-verbs: the arguments of VRFY and ETRN, read as Postfix's smtpd reads
 * them, with its replies for bad ones (no enhanced status code where Postfix
 * sends none).
 *
 *   vrfyArgument(text, smtputf8Enabled): a trailing SMTPUTF8 word is taken
 *     off (when smtputf8_enable); nothing left is "501 5.5.4 Syntax: VRFY
 *     address [SMTPUTF8]"; the rest must be one address, bare or in <>
 *     after an optional phrase ("Root <root@example.com>"), not <>; else
 *     "501 5.1.3 Bad recipient address syntax". Gives the address to check
 *     (quotes and a source route removed) and the text the 252 reply echoes.
 *   etrnArgument(text): exactly one word ("500 Syntax: ETRN domain"), a
 *     leading @ or # dropped, a host name or an [address] literal ("501
 *     Error: invalid parameter syntax").
 *
 * Pure functions; nothing throws.
 */
import { isIP } from 'node:net';
import type { PlainReply } from './smtpd-connection.js';

export type VrfyArgument = { address: string; shown: string; smtputf8: boolean } | { reply: PlainReply; illegal?: string };

/** Words as Postfix's command tokenizer splits them: whitespace outside <> and double quotes. */
function words(text: string): string[] {
  const out: string[] = [];
  let cur = '';
  let angle = 0;
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      cur += c;
      if (c === '\\' && i + 1 < text.length) cur += text[++i];
      else if (c === '"') quoted = false;
      continue;
    }
    if (c === '"') quoted = true;
    else if (c === '<') angle++;
    else if (c === '>' && angle > 0) angle--;
    if (/\s/.test(c) && angle === 0) {
      if (cur) out.push(cur);
      cur = '';
      continue;
    }
    cur += c;
  }
  if (cur) out.push(cur);
  return out;
}

/** "\"x y\"@example.com" as "x y@example.com" (Postfix's internal form); a source route goes. */
function internalForm(address: string): string {
  const a = address.replace(/^@[^,:@\s]+(?:,@[^,:@\s]+)*:/, '');
  const m = /^"((?:[^"\\]|\\.)*)"(@.*)?$/.exec(a);
  return m ? m[1].replace(/\\(.)/g, '$1') + (m[2] ?? '') : a;
}

/** A bare address: one word, without <, >, ( or ) outside quotes. */
function isBareAddress(text: string): boolean {
  return words(text).length === 1 && !/[<>()]/.test(text.replace(/"(?:[^"\\]|\\.)*"/g, ''));
}

export function vrfyArgument(text: string, smtputf8Enabled: boolean): VrfyArgument {
  const argv = words(text);
  let smtputf8 = false;
  if (smtputf8Enabled && argv.length > 0 && argv[argv.length - 1].toUpperCase() === 'SMTPUTF8') {
    argv.pop();
    smtputf8 = true;
  }
  if (argv.length === 0) return { reply: { code: 501, text: `5.5.4 Syntax: VRFY address${smtputf8Enabled ? ' [SMTPUTF8]' : ''}` } };
  const shown = argv.join(' ');
  const bad = { reply: { code: 501, text: '5.1.3 Bad recipient address syntax' }, illegal: shown };
  const open = shown.indexOf('<');
  let address: string;
  if (open >= 0) {
    const close = shown.indexOf('>', open);
    // One <address>, at the end, after an optional phrase.
    if (close < 0 || close !== shown.length - 1 || shown.indexOf('<', open + 1) >= 0) return bad;
    address = shown.slice(open + 1, close).trim();
  } else {
    // RFC 822 comments go, as Postfix's address parser drops them ("x(comment)" is x).
    address = shown.replace(/\((?:[^()\\]|\\.)*\)/g, '');
    if (!isBareAddress(address)) return bad;
  }
  address = internalForm(address);
  if (!address) return bad;
  return { address, shown, smtputf8 };
}

export type EtrnArgument = { site: string } | { reply: PlainReply };

/** Postfix's valid_hostname: dotted labels of letters, digits, '-' and '_', not all numeric. */
function validHostname(name: string): boolean {
  if (name.length === 0 || name.length > 255) return false;
  const labels = name.replace(/\.$/, '').split('.');
  if (!labels.every((l) => l.length > 0 && l.length <= 63 && /^[A-Za-z0-9_-]+$/.test(l) && !l.startsWith('-') && !l.endsWith('-'))) return false;
  return !/^[0-9.]+$/.test(name);
}

/** "[192.0.2.1]" or "[IPv6:2001:db8::1]". */
function validAddressLiteral(name: string): boolean {
  const m = /^\[(?:ipv6:)?([^\]]+)\]$/i.exec(name);
  return !!m && isIP(m[1]) !== 0 && (isIP(m[1]) === 6) === /^\[ipv6:/i.test(name);
}

export function etrnArgument(text: string): EtrnArgument {
  const argv = text.split(/\s+/).filter(Boolean);
  if (argv.length !== 1) return { reply: { code: 500, text: 'Syntax: ETRN domain' } };
  const site = argv[0].replace(/^[@#]/, '');
  if (!validHostname(site) && !validAddressLiteral(site)) return { reply: { code: 501, text: 'Error: invalid parameter syntax' } };
  return { site };
}
