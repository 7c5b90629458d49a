/**
 * cleanup-milter: the content part of the milter protocol, where cleanup
 * runs (Postfix's cleanup_milter), on the message cleanup is about to
 * queue. runMilters() shows the milters the header (without the Received:
 * header this MTA prepended, hidden as Postfix and Sendmail hide it) and
 * the body, and applies what they ask at end of message, milter after
 * milter: headers added, inserted, changed and deleted, the body replaced,
 * recipients added (with NOTIFY and ORCPT from SMFIR_ADDRCPT_PAR) and
 * deleted, the sender changed. Added recipients and a new sender go through
 * the same address rewriting as the envelope. The outcome is the edited
 * message, or a discard, a hold (quarantine) or an SMTP reply.
 *
 * emulateNonSmtp() plays connect, EHLO, MAIL, RCPT and DATA for a message
 * from sendmail/pickup (non_smtpd_milters), as Postfix's cleanup does.
 * Nothing throws: milter failures are the milter's default action.
 */
import type { MilterContent, MilterEditor, MilterSession, MilterVerdict } from '../global/milter-session.js';
import type { NewMessage, RecipientSpec } from '../store/store-types.js';
import type { DsnNotify } from '../store/store-types.js';
import { splitMessage } from './cleanup-content.js';
import { rewriteEnvelope } from './cleanup-addresses.js';
import type { RewriteFn } from './cleanup-types.js';

/** What the milters made of a message. */
export type MilterOutcome =
  | { action: 'queue'; message: NewMessage; hold: boolean; holdReason?: string }
  | { action: 'discard' }
  | { action: 'reply'; reply: string; shutdown?: boolean };

interface Field {
  name: string;
  /** The whole field, "Name: value" with folded lines, ending in CRLF. */
  raw: string;
}

/** The message as the milters edit it. */
class EditableMessage implements MilterEditor {
  readonly hidden: string;
  readonly fields: Field[];
  body: Buffer;
  private newBody: Buffer[] | undefined;
  sender: string;
  senderChanged = false;
  recipients: RecipientSpec[];
  readonly added: RecipientSpec[] = [];

  constructor(message: NewMessage) {
    const buf = Buffer.from(message.content.buffer, message.content.byteOffset, message.content.byteLength);
    const split = splitMessage(buf, Number.MAX_SAFE_INTEGER);
    const headers = split.headers;
    // The first header is the Received: cleanup prepended: kept on top, never shown.
    const first = headers[0]?.name === 'received' ? headers.shift() : undefined;
    this.hidden = first ? buf.toString('utf8', first.start, first.end) : '';
    this.fields = headers.map((h) => {
      const raw = buf.toString('utf8', h.start, h.end);
      return { name: raw.slice(0, raw.indexOf(':')).trim(), raw };
    });
    this.body = buf.subarray(split.bodyStart);
    this.sender = message.sender;
    this.recipients = [...message.recipients];
  }

  content(): MilterContent {
    return {
      headers: this.fields.map((f) => {
        const value = f.raw.slice(f.raw.indexOf(':') + 1).replace(/\r?\n$/, '').replace(/\r\n/g, '\n');
        return { name: f.name, value };
      }),
      body: this.body,
    };
  }

  addHeader(name: string, value: string): void {
    this.fields.push(field(name, value));
  }

  insertHeader(index: number, name: string, value: string): void {
    this.fields.splice(Math.min(index, this.fields.length), 0, field(name, value));
  }

  changeHeader(index: number, name: string, value: string): void {
    const lower = name.toLowerCase();
    let seen = 0;
    const at = this.fields.findIndex((f) => f.name.toLowerCase() === lower && ++seen === index);
    if (at < 0) {
      // Not there: a change adds it (as Sendmail and Postfix); a deletion has nothing to do.
      if (value !== '') this.addHeader(name, value);
      return;
    }
    if (value === '') this.fields.splice(at, 1);
    else this.fields[at] = field(name, value);
  }

  addRecipient(address: string, args: string | undefined): void {
    const spec: RecipientSpec = { address: bare(address) };
    for (const arg of (args ?? '').split(/\s+/).filter(Boolean)) {
      const eq = arg.indexOf('=');
      const key = arg.slice(0, eq).toUpperCase();
      const v = arg.slice(eq + 1);
      if (key === 'NOTIFY') spec.notify = v.toUpperCase().split(',') as DsnNotify[];
      else if (key === 'ORCPT') spec.orcpt = v;
    }
    this.added.push(spec);
  }

  deleteRecipient(address: string): void {
    const key = bare(address).toLowerCase();
    this.recipients = this.recipients.filter((r) => r.address.toLowerCase() !== key);
  }

  changeSender(address: string): void {
    this.sender = bare(address);
    this.senderChanged = true;
  }

  replaceBody(chunk: Buffer): void {
    (this.newBody ??= []).push(Buffer.from(chunk));
  }

  /** Ends one milter's turn: a replacement body becomes the body the next milter sees. */
  settleBody(): void {
    if (!this.newBody) return;
    this.body = crlf(Buffer.concat(this.newBody));
    this.newBody = undefined;
  }

  bytes(): { content: Buffer; headerLength: number } {
    const head = Buffer.from(this.hidden + this.fields.map((f) => f.raw).join('') + '\r\n', 'utf8');
    return { content: Buffer.concat([head, this.body]), headerLength: head.length };
  }
}

/** A header field from a milter's name and value: one space after the colon unless the value brings its own, LF made CRLF. */
function field(name: string, value: string): Field {
  const v = /^[ \t]/.test(value) ? value : ` ${value}`;
  return { name, raw: `${name}:${v.replace(/\r?\n/g, '\r\n')}\r\n` };
}

/** An address without its angle brackets. */
function bare(address: string): string {
  const a = address.trim();
  return a.startsWith('<') && a.endsWith('>') ? a.slice(1, -1) : a;
}

/** Bare LF made CRLF. */
function crlf(buf: Buffer): Buffer {
  if (!buf.includes(0x0a)) return buf;
  return Buffer.from(buf.toString('latin1').replace(/\r?\n/g, '\r\n'), 'latin1');
}

/** The content steps on `message`, and the edits applied; see the file comment. */
export async function runMilters(session: MilterSession, message: NewMessage, rewrite: RewriteFn): Promise<MilterOutcome> {
  const m = new EditableMessage(message);
  const editor: MilterEditor = {
    addHeader: (n, v) => m.addHeader(n, v),
    insertHeader: (i, n, v) => m.insertHeader(i, n, v),
    changeHeader: (i, n, v) => m.changeHeader(i, n, v),
    addRecipient: (a, args) => m.addRecipient(a, args),
    deleteRecipient: (a) => m.deleteRecipient(a),
    changeSender: (a) => m.changeSender(a),
    replaceBody: (c) => m.replaceBody(c),
  };
  const verdict = await session.message(() => {
    m.settleBody();
    return m.content();
  }, editor);
  m.settleBody();
  return finish(m, message, verdict, rewrite);
}

/** A verdict given before the content (non-SMTP emulation) as an outcome for the unchanged message. */
export function verdictOutcome(v: MilterVerdict, message: NewMessage): MilterOutcome {
  switch (v.action) {
    case 'reply':
      return { action: 'reply', reply: v.reply };
    case 'shutdown':
      return { action: 'reply', reply: '421 4.7.0 Server closing connection', shutdown: true };
    case 'discard':
      return { action: 'discard' };
    case 'hold':
      return { action: 'queue', message, hold: true, holdReason: v.reason };
  }
}

async function finish(m: EditableMessage, message: NewMessage, verdict: MilterVerdict | undefined, rewrite: RewriteFn): Promise<MilterOutcome> {
  if (verdict?.action === 'reply') return { action: 'reply', reply: verdict.reply };
  if (verdict?.action === 'shutdown') return { action: 'reply', reply: '421 4.7.0 Server closing connection', shutdown: true };
  if (verdict?.action === 'discard') return { action: 'discard' };
  let sender = m.sender;
  let recipients = m.recipients;
  if (m.senderChanged || m.added.length > 0) {
    // A new sender and added recipients get the envelope's rewriting; the recipients already there were rewritten.
    const env = await rewriteEnvelope(rewrite, m.sender, m.added);
    if ('error' in env) return { action: 'reply', reply: `451 ${env.error.startsWith('4.') ? env.error : `4.3.0 ${env.error}`}` };
    if (m.senderChanged) sender = env.sender;
    const seen = new Set(recipients.map((r) => r.address.toLowerCase()));
    recipients = [...recipients, ...env.recipients.filter((r) => !seen.has(r.address.toLowerCase()))];
  }
  if (recipients.length === 0) {
    // Every recipient deleted: nothing to deliver, as Postfix drops a queue file without recipients.
    return { action: 'discard' };
  }
  const { content, headerLength } = m.bytes();
  const out: NewMessage = { ...message, sender, recipients, content, headerLength };
  const hold = verdict?.action === 'hold';
  return hold ? { action: 'queue', message: out, hold, holdReason: verdict.reason } : { action: 'queue', message: out, hold };
}

/**
 * The SMTP events Postfix's cleanup plays to non_smtpd_milters for a local
 * submission: CONNECT from localhost [127.0.0.1], EHLO localhost, MAIL,
 * each RCPT, DATA. The first verdict stops the play.
 */
export async function emulateNonSmtp(session: MilterSession, sender: string, recipients: readonly RecipientSpec[]): Promise<MilterVerdict | undefined> {
  let v = await session.connect({ name: 'localhost', addr: '127.0.0.1', port: 0 });
  if (v) return v;
  v = await session.helo('localhost');
  if (v) return v;
  v = await session.mail(sender, []);
  if (v) return v;
  for (const r of recipients) {
    v = await session.rcpt(r.address, []);
    if (v) return v;
  }
  return session.data();
}
