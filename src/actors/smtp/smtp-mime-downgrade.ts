/**
 * smtp-mime-downgrade: Postfix's MIME output conversion (RFC 6152, the
 * smtp client's disable_mime_output_conversion = no) for a next hop that
 * does not offer 8BITMIME: a one-pass line walk over the MIME structure, as
 * Postfix's mime_state does, that re-encodes every leaf part whose
 * Content-Transfer-Encoding says 8bit or binary as quoted-printable, and
 * relabels a multipart or message/rfc822 part that says 8bit or binary as
 * 7bit (its own parts are walked: an attached message's headers start a
 * nested header block, and its body is converted by its own headers).
 *
 * As Postfix: the converted part's old Content-Transfer-Encoding header is
 * dropped and the new one goes at the end of that header block; nothing
 * else in any header changes (8-bit text in a header stays, a DKIM
 * signature is left as it is, and no longer matches a converted body);
 * preamble, epilogue and boundary lines pass as they are; a part that says
 * (or defaults to) 7bit passes as it is, 8-bit bytes or not; multipart
 * nesting deeper than mime_nesting_limit is the one failure ("5.6.0 MIME
 * nesting exceeds safety limit"). Where this differs: message/partial and
 * message/external-body parts are treated as leaves (quoted-printable), so
 * the part's label and its content agree.
 *
 * The `binaryOnly` mode serves a BINARYMIME message to a peer that offers
 * 8BITMIME but not BINARYMIME: only binary parts are converted, and a
 * multipart or message part that says binary becomes 8bit.
 *
 * Quoted-printable comes from nodemailer's encoder, one hard line per input
 * line ending in CRLF, so decoding gives the original bytes back (a CR or
 * LF that is not part of a CRLF is encoded; a last line without a line end
 * gets none). Pure; never throws.
 */
import { encode as qpEncode, wrap as qpWrap } from 'nodemailer/lib/qp';
import { parseHeaderValue } from 'nodemailer/lib/mime-funcs';

/** The converted content, or why it cannot be converted. */
export type DowngradeResult =
  | { ok: true; content: Buffer; changed: boolean }
  | { ok: false; dsn: string; text: string };

type Domain = '7bit' | '8bit' | 'binary';
type CType = 'text' | 'message' | 'multipart' | 'other';
type State = 'primary' | 'multipart' | 'nested' | 'body';

interface Boundary {
  delimiter: string;
  /** multipart/digest parts default to message/rfc822. */
  digest: boolean;
}

const LF = 0x0a;
const CR = 0x0d;
const CRLF = Buffer.from('\r\n');
const HEADER_NAME = /^[\x21-\x39\x3b-\x7e]+[ \t]*:/;

/** True when a byte above 0x7f occurs in `content` from `start`. */
export function hasEightBit(content: Buffer, start = 0): boolean {
  for (let i = start; i < content.length; i++) if (content[i] > 0x7f) return true;
  return false;
}

/** One input line as quoted-printable: soft breaks at 76 columns, a CR or LF inside the line encoded. */
function qpLine(line: Buffer): string {
  const encoded = qpEncode(line).replace(/\r/g, '=0D').replace(/\n/g, '=0A');
  return qpWrap(encoded, 76);
}

function domainOf(value: string, current: Domain): Domain {
  const word = value.trim().split(/[\s;(]/)[0].toLowerCase();
  if (word === '8bit') return '8bit';
  if (word === 'binary') return 'binary';
  if (word === '7bit' || word === 'quoted-printable' || word === 'base64') return '7bit';
  // An encoding this walk does not know leaves the domain as it was, as Postfix does.
  return current;
}

/**
 * Converts `content` (a whole message, headers and body) for a peer
 * without 8BITMIME, or with `binaryOnly`, for one without BINARYMIME.
 */
export function downgradeMime(content: Buffer, nestingLimit: number, binaryOnly = false): DowngradeResult {
  const out: Buffer[] = [];
  let changed = false;
  const stack: Boundary[] = [];
  let state = 'primary' as State;
  let ctype: CType = 'text';
  let subtype = 'plain';
  let domain: Domain = '7bit';
  /** The raw lines of the header block being read, each with its line end, and whether a line is a CTE header. */
  let headerLines: Array<{ raw: Buffer; cte: boolean }> = [];
  let logical: { name: string; text: string; first: number } | undefined;
  let failed = false;
  /** Lines of a converted part that ended with a bare LF, waiting for the CRLF that ends the encoded line. */
  const carry: Buffer[] = [];

  const converts = (d: Domain): boolean => (binaryOnly ? d === 'binary' : d !== '7bit');

  const setPart = (s: State, c: CType, st: string, d: Domain): void => {
    state = s;
    ctype = c;
    subtype = st;
    domain = d;
  };

  /** A complete (unfolded) header: Content-Type and Content-Transfer-Encoding change the part's state. */
  const endLogical = (): void => {
    if (!logical) return;
    const { name, text, first } = logical;
    logical = undefined;
    if (name === 'content-type') {
      const parsed = parseHeaderValue(text);
      const [type, sub = ''] = parsed.value.toLowerCase().split('/').map((x) => x.trim());
      if (type === 'text') setPart(state, 'text', sub, domain);
      else if (type === 'message') setPart(state, 'message', sub, domain);
      else if (type === 'multipart') {
        setPart(state, 'multipart', sub, domain);
        const b = parsed.params.boundary;
        if (b) {
          if (stack.length > nestingLimit) failed = true;
          else stack.unshift({ delimiter: '--' + b, digest: sub === 'digest' });
        }
      } else setPart(state, 'other', sub, domain);
    } else if (name === 'content-transfer-encoding') {
      domain = domainOf(text, domain);
      for (let i = first; i < headerLines.length; i++) headerLines[i].cte = true;
    }
  };

  /** The end of a header block: write it (a converted part's CTE header replaced), then choose the body state. */
  const endHeaders = (blank: boolean): void => {
    endLogical();
    const convert = converts(domain);
    for (const h of headerLines) if (!(convert && h.cte)) out.push(h.raw);
    const nestedWhole = ctype === 'message' && subtype === 'rfc822';
    if (convert) {
      changed = true;
      const label = ctype === 'multipart' || nestedWhole ? (binaryOnly ? '8bit' : '7bit') : 'quoted-printable';
      out.push(Buffer.from(`Content-Transfer-Encoding: ${label}\r\n`));
    }
    headerLines = [];
    // A block ended by a line that is no header: Postfix puts the missing empty line after the primary headers.
    if (!blank && state === 'primary') out.push(CRLF);
    if (!blank) {
      state = 'body';
      return;
    }
    if (nestedWhole) setPart('nested', 'text', 'plain', '7bit');
    else if (ctype === 'multipart') setPart('body', 'other', '', '7bit');
    else state = 'body';
  };

  let pos = 0;
  while (pos < content.length && !failed) {
    const lf = content.indexOf(LF, pos);
    const next = lf < 0 ? content.length : lf + 1;
    const end = lf < 0 ? content.length : lf > pos && content[lf - 1] === CR ? lf - 1 : lf;
    const raw = content.subarray(pos, next);
    const line = content.subarray(pos, end);
    pos = next;

    if (state !== 'body') {
      const text = line.toString('latin1');
      if (logical && (text.startsWith(' ') || text.startsWith('\t'))) {
        logical.text += text;
        headerLines.push({ raw, cte: headerLines[headerLines.length - 1]?.cte ?? false });
        continue;
      }
      const m = HEADER_NAME.exec(text);
      if (m) {
        endLogical();
        const colon = text.indexOf(':');
        logical = { name: text.slice(0, colon).trim().toLowerCase(), text: text.slice(colon + 1), first: headerLines.length };
        headerLines.push({ raw, cte: false });
        continue;
      }
      const blank = line.length === 0;
      endHeaders(blank);
      if (blank) {
        out.push(raw);
        continue;
      }
      // The line that ended the block is body text: fall through.
    }

    // Body text: a delimiter of an enclosing multipart ends the part (only after CRLF, RFC 2046).
    if (!carry.length && stack.length && line.length > 2 && line[0] === 0x2d && line[1] === 0x2d) {
      const text = line.toString('latin1');
      const at = stack.findIndex((b) => text.startsWith(b.delimiter));
      if (at >= 0) {
        const b = stack[at];
        stack.splice(0, at);
        if (text.startsWith('--', b.delimiter.length)) {
          stack.shift();
          setPart('body', 'other', '', '7bit');
        } else {
          setPart('multipart', b.digest ? 'message' : 'text', b.digest ? 'rfc822' : 'plain', '7bit');
        }
        out.push(raw);
        continue;
      }
    }
    if (converts(domain)) {
      // A bare LF is data, not a line end: it joins the next line, encoded, so decoding gives it back.
      if (lf >= 0 && end === lf) {
        carry.push(raw);
        continue;
      }
      const whole = carry.length ? Buffer.concat([...carry.splice(0), line]) : line;
      out.push(Buffer.from(qpLine(whole) + (lf >= 0 ? '\r\n' : ''), 'latin1'));
    } else {
      out.push(raw);
    }
  }
  if (failed) return { ok: false, dsn: '5.6.0', text: 'MIME nesting exceeds safety limit' };
  if (carry.length) out.push(Buffer.from(qpLine(Buffer.concat(carry)), 'latin1'));
  // A message that ends inside its headers still gets its header block written.
  if (state !== 'body' && (headerLines.length || logical)) endHeaders(true);
  if (!changed) return { ok: true, content, changed: false };
  return { ok: true, content: Buffer.concat(out), changed: true };
}
