/**
 * smtpd-params: Postfix's checks of the ESMTP parameters of MAIL FROM and
 * RCPT TO, with its replies, made before smtp-server sees the command (the
 * library would take an unknown parameter, or answer with texts of its own).
 *
 *   mailParameterError(line, smtputf8, requiretls): the reply for the first bad MAIL
 *     parameter: BODY=8BITMIME / 7BIT / BINARYMIME, SIZE=digits ("501 5.5.4 Bad
 *     message size syntax"), SMTPUTF8 (when smtputf8_enable), REQUIRETLS
 *     (when `requiretls`: requiretls_enable in a TLS session), AUTH=,
 *     RET=FULL|HDRS once ("501 5.5.4 Bad RET parameter syntax"), ENVID=
 *     once, printable after xtext decoding ("501 5.5.4 Bad ENVID parameter
 *     syntax"); anything else is "555 5.5.4 Unsupported option: WORD", the
 *     word as the client wrote it.
 *   rcptParameterError(line): NOTIFY= once, NEVER alone or a list of
 *     SUCCESS, FAILURE, DELAY ("501 5.5.4 Error: Bad NOTIFY parameter
 *     syntax"); ORCPT=type;xtext once ("501 5.5.4 Error: Bad ORCPT parameter
 *     syntax"); anything else is 555 as above.
 *   addressArgument(line, verb): the text after "MAIL FROM:" / "RCPT TO:"
 *     split into the address token and the parameter words; undefined when
 *     the line has no address at all (Postfix: "501 5.5.4 Syntax: ...").
 *
 * Pure functions; nothing throws.
 */

/** A reply to send as is. */
export interface ParamReply {
  code: number;
  text: string;
}

/** The address token and the parameter words of a MAIL FROM / RCPT TO line. */
export function addressArgument(line: string, verb: 'MAIL FROM:' | 'RCPT TO:'): { address: string; params: string[] } | undefined {
  if (line.slice(0, verb.length).toUpperCase() !== verb) {
    // "MAIL FROM: <a>" with the colon after a space, or no FROM: at all: Postfix's tokens differ; the syntax reply covers both.
    const m = /^(MAIL|RCPT)\s+(FROM|TO)\s*:/i.exec(line);
    if (!m) return undefined;
    line = verb + line.slice(m[0].length);
  }
  const rest = line.slice(verb.length).trim();
  if (!rest) return undefined;
  let address: string;
  let tail: string;
  if (rest.startsWith('<')) {
    const close = rest.indexOf('>');
    address = close < 0 ? rest : rest.slice(0, close + 1);
    tail = close < 0 ? '' : rest.slice(close + 1);
  } else {
    const m = /^(\S+)(.*)$/s.exec(rest)!;
    address = m[1];
    tail = m[2];
  }
  return { address, params: tail.trim().split(/\s+/).filter(Boolean) };
}

/** RFC 3461 xtext to text; undefined for a malformed +XX escape. */
function xtextDecode(text: string): string | undefined {
  let out = '';
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c !== '+') {
      out += c;
      continue;
    }
    const hex = text.slice(i + 1, i + 3);
    if (!/^[0-9A-F]{2}$/.test(hex)) return undefined;
    out += String.fromCharCode(parseInt(hex, 16));
    i += 2;
  }
  return out;
}

const PRINTABLE = /^[\x20-\x7e]*$/;

/** Named in a reply: printable and short, so the reply stays one legal line. */
function shown(word: string): string {
  return word.replace(/[^\x21-\x7e]/g, '?').slice(0, 200);
}

function unsupported(word: string): ParamReply {
  return { code: 555, text: `5.5.4 Unsupported option: ${shown(word)}` };
}

/** The reply for the first MAIL FROM parameter Postfix would refuse; undefined when all pass. */
export function mailParameterError(params: readonly string[], smtputf8: boolean, requiretls = false): ParamReply | undefined {
  let ret = false;
  let envid = false;
  for (const word of params) {
    const upper = word.toUpperCase();
    // BINARYMIME is offered with CHUNKING (smtpd-bdat), so its BODY value is known too.
    if (upper === 'BODY=8BITMIME' || upper === 'BODY=7BIT' || upper === 'BODY=BINARYMIME') continue;
    if (upper.startsWith('SIZE=')) {
      if (!/^\d+$/.test(word.slice(5))) return { code: 501, text: '5.5.4 Bad message size syntax' };
      continue;
    }
    if (smtputf8 && upper === 'SMTPUTF8') continue;
    // RFC 8689: known only where offered (TLS sessions, requiretls_enable); elsewhere Postfix's 555.
    if (requiretls && upper === 'REQUIRETLS') continue;
    if (upper.startsWith('AUTH=')) continue;
    if (upper.startsWith('RET=')) {
      const v = upper.slice(4);
      if (ret || (v !== 'FULL' && v !== 'HDRS')) return { code: 501, text: '5.5.4 Bad RET parameter syntax' };
      ret = true;
      continue;
    }
    if (upper.startsWith('ENVID=')) {
      const v = xtextDecode(word.slice(6));
      if (envid || v === undefined || !v || !PRINTABLE.test(v)) return { code: 501, text: '5.5.4 Bad ENVID parameter syntax' };
      envid = true;
      continue;
    }
    return unsupported(word);
  }
  return undefined;
}

const NOTIFY_WORDS = new Set(['SUCCESS', 'FAILURE', 'DELAY']);

/** True for Postfix's dsn_notify_mask: NEVER alone, or SUCCESS, FAILURE, DELAY in any combination. */
function validNotify(value: string): boolean {
  const words = value.toUpperCase().split(',');
  if (words.length === 1 && words[0] === 'NEVER') return true;
  return words.every((w) => NOTIFY_WORDS.has(w));
}

/** The reply for the first RCPT TO parameter Postfix would refuse; undefined when all pass. */
export function rcptParameterError(params: readonly string[]): ParamReply | undefined {
  let notify = false;
  let orcpt = false;
  for (const word of params) {
    const upper = word.toUpperCase();
    if (upper.startsWith('NOTIFY=')) {
      if (notify || !validNotify(word.slice(7))) return { code: 501, text: '5.5.4 Error: Bad NOTIFY parameter syntax' };
      notify = true;
      continue;
    }
    if (upper.startsWith('ORCPT=')) {
      const v = word.slice(6);
      const semi = v.indexOf(';');
      const decoded = semi > 0 ? xtextDecode(v.slice(semi + 1)) : undefined;
      if (orcpt || decoded === undefined || decoded === '') return { code: 501, text: '5.5.4 Error: Bad ORCPT parameter syntax' };
      orcpt = true;
      continue;
    }
    return unsupported(word);
  }
  return undefined;
}
