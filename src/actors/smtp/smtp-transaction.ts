/**
 * smtp-transaction: one mail transaction on an open session: MAIL FROM
 * once, RCPT TO per recipient, DATA when any recipient was accepted (BDAT
 * when the server offers CHUNKING), and the outcome of each recipient from
 * its own reply (or from the MAIL FROM / DATA reply that applies to all).
 * The content is first made fit for this server (prepareContent): 8-bit
 * MIME parts become quoted-printable for a server without 8BITMIME, unless
 * disable_mime_output_conversion; a BINARYMIME message goes as is only with
 * BDAT to a server that offers BINARYMIME, else converted or, when
 * conversion is off, bounced with 5.6.3 (RFC 3030); long lines are broken
 * per smtp_line_length_limit (not in binary content). Never throws; a
 * connection lost before the server answered anything is flagged so a
 * cached session can be replaced without failing the delivery.
 */
import { failureState } from '../../global/dsn-status.js';
import type { DeliveryOutcome, DeliveryRequest } from '../../protocol/protocol.js';
import type { ClientError } from './smtp-client.js';
import { parseServerReply } from '../../util/smtp-reply.js';
import { saidOutcome } from './smtp-reply.js';
import type { SmtpSession } from './smtp-session.js';
import type { SmtpClient } from './smtp-client.js';
import { breakLongLines } from './smtp-line-limit.js';
import { downgradeMime, hasEightBit } from './smtp-mime-downgrade.js';

/** The parameters that shape what is sent. */
export interface TransactionOptions {
  /** smtp_line_length_limit (0: none). */
  lineLengthLimit: number;
  /** disable_mime_output_conversion = no. */
  mimeOutputConversion: boolean;
  /** mime_nesting_limit, for the conversion. */
  nestingLimit: number;
  /** RFC 8689: pass REQUIRETLS on MAIL FROM where the server offers it (smtp-requiretls). */
  requiretls?: boolean;
}

/** The content to send to this server and how: BDAT or DATA, and the BODY= value. */
export type PreparedContent =
  | { ok: true; content: Buffer; bdat: boolean; body: '' | '8BITMIME' | 'BINARYMIME' }
  | { ok: false; dsn: string; reason: string };

/** A recipient still to be delivered in this request. */
export type PendingRecipient = DeliveryRequest['recipients'][number];

export interface TransactionResult {
  outcomes: DeliveryOutcome[];
  /** The server answered nothing of this transaction: safe to retry on a new connection. */
  noReply: boolean;
  /** The connection can carry another transaction (after RSET when `needsReset`). */
  reusable: boolean;
  needsReset: boolean;
}

const NON_ASCII = /[^\x00-\x7f]/;

/** True when the message needs SMTPUTF8: asked for, and a non-ASCII address or header. */
export function needsSmtputf8(req: DeliveryRequest, recipients: PendingRecipient[], content: Buffer): boolean {
  if (!req.smtputf8) return false;
  if (NON_ASCII.test(req.sender) || recipients.some((r) => NON_ASCII.test(r.address))) return true;
  const headerEnd = Math.min(req.headerLength || content.length, content.length);
  for (let i = 0; i < headerEnd; i++) if (content[i] > 0x7f) return true;
  return false;
}

/**
 * The ORCPT to send: the one received, else, as Postfix does (RFC 3461
 * 5.2.1.d allows it), the recipient as first received, so the next hop's
 * notices name the address the sender used. None for a non-ASCII address,
 * which rfc822 cannot carry.
 */
export function passedOrcpt(r: PendingRecipient): string | undefined {
  if (r.orcpt !== undefined) return r.orcpt;
  const orig = r.origRcpt ?? r.address;
  return NON_ASCII.test(orig) ? undefined : `rfc822;${orig}`;
}

/**
 * What goes to this server: `content` as read from the queue (CRLF lines;
 * binary when the message is BINARYMIME) converted as the server's
 * extensions require (see the file comment).
 */
export function prepareContent(req: DeliveryRequest, content: Buffer, ext: string[], opts: TransactionOptions, peer: string): PreparedContent {
  const chunking = ext.includes('CHUNKING');
  const eightBit = ext.includes('8BITMIME');
  let body: '' | '8BITMIME' | 'BINARYMIME' = req.bodyType === '8BITMIME' && eightBit ? '8BITMIME' : '';
  let out = content;
  if (req.bodyType === 'BINARYMIME') {
    if (chunking && ext.includes('BINARYMIME')) return { ok: true, content, bdat: true, body: 'BINARYMIME' };
    // RFC 3030 section 3: binary content never goes to a server that did not offer it: convert, or bounce.
    if (!opts.mimeOutputConversion) {
      return { ok: false, dsn: '5.6.3', reason: `message is BINARYMIME, but host ${peer} does not offer BINARYMIME and disable_mime_output_conversion = yes forbids converting it` };
    }
    const r = downgradeMime(content, opts.nestingLimit, eightBit);
    if (!r.ok) return { ok: false, dsn: r.dsn, reason: r.text };
    out = r.content;
    body = eightBit ? '8BITMIME' : '';
  } else if (!eightBit && opts.mimeOutputConversion && req.bodyType !== '7BIT' && hasEightBit(content, Math.min(req.headerLength || 0, content.length))) {
    const r = downgradeMime(content, opts.nestingLimit);
    if (!r.ok) return { ok: false, dsn: r.dsn, reason: r.text };
    out = r.content;
  }
  return { ok: true, content: breakLongLines(out, opts.lineLengthLimit), bdat: chunking, body };
}

function commandName(err: ClientError): string {
  if (err.command === 'MAIL FROM') return 'MAIL FROM';
  if (err.command === 'RCPT TO') return 'RCPT TO';
  if (err.command === 'BDAT') return 'BDAT';
  return err.command === 'DATA' && err.code === 'EMESSAGE' ? 'end of DATA' : 'DATA';
}

function lostStage(err: ClientError): string {
  if (err.command === 'MAIL FROM') return 'sending MAIL FROM';
  if (err.command === 'RCPT TO') return 'sending RCPT TO';
  return 'sending message body';
}

/** Runs one transaction for `recipients` on `session`. */
export async function runTransaction(
  session: SmtpSession,
  req: DeliveryRequest,
  recipients: PendingRecipient[],
  queued: Buffer,
  opts: TransactionOptions,
): Promise<TransactionResult> {
  const { client, peer, relay } = session;
  const outcome = (r: PendingRecipient, state: DeliveryOutcome['state'], dsn: string, reason: string, said?: { reply: string; command?: string }): DeliveryOutcome => {
    const o: DeliveryOutcome = { index: r.index, state, dsn, reason, relay };
    if (said) {
      o.reply = said.reply;
      if (said.command !== undefined) o.command = said.command;
    }
    return o;
  };

  if (needsSmtputf8(req, recipients, queued) && !client.extensions.includes('SMTPUTF8')) {
    return {
      outcomes: recipients.map((r) => outcome(r, 'bounced', '5.6.7', `SMTPUTF8 is required, but was not offered by host ${peer}`)),
      noReply: false, reusable: true, needsReset: false,
    };
  }
  const prepared = prepareContent(req, queued, client.extensions, opts, peer);
  if (!prepared.ok) {
    return {
      outcomes: recipients.map((r) => outcome(r, 'bounced', prepared.dsn, prepared.reason)),
      noReply: false, reusable: true, needsReset: false,
    };
  }
  const content = prepared.content;
  if (client.maxSize && content.length > client.maxSize) {
    return {
      outcomes: recipients.map((r) => outcome(r, 'bounced', '5.3.4', `message size ${content.length} exceeds size limit ${client.maxSize} of server ${peer}`)),
      noReply: false, reusable: true, needsReset: false,
    };
  }

  const result = await send(client, req, recipients, content, prepared.bdat, prepared.body, opts.requiretls === true);
  const endCommand = prepared.bdat ? 'BDAT' : 'end of DATA';

  // A refused MAIL FROM applies to every recipient; the RCPT replies after it mean nothing.
  if (result.error?.command === 'MAIL FROM' && result.error.response) {
    const reply = parseServerReply(result.error.response);
    const said = saidOutcome(peer, reply, 'MAIL FROM');
    return {
      outcomes: recipients.map((r) => outcome(r, failureState(reply.dsn), reply.dsn, said.reason, said)),
      noReply: false, reusable: !client.dead, needsReset: true,
    };
  }

  // Pair each recipient with its own RCPT reply; a duplicate address takes the next unused one.
  const rejected = result.rejectedErrors.map((e) => ({ err: e, used: false }));
  const outcomes: DeliveryOutcome[] = [];
  const accepted: PendingRecipient[] = [];
  for (const r of recipients) {
    const hit = rejected.find((x) => !x.used && (x.err as { recipient?: string }).recipient === r.address.trim());
    if (hit && hit.err.response) {
      hit.used = true;
      const reply = parseServerReply(hit.err.response);
      const said = saidOutcome(peer, reply, 'RCPT TO');
      outcomes.push(outcome(r, failureState(reply.dsn), reply.dsn, said.reason, said));
    } else {
      accepted.push(r);
    }
  }

  const err = result.error;
  if (!err && result.info) {
    const reply = parseServerReply(result.info.response || '250 2.0.0 Ok');
    // The reply to the end of DATA: its text is the reason logged, and the Diagnostic-Code of a success notice.
    // RFC 3461 and Postfix: a next hop that announced DSN took NOTIFY on and reports success
    // itself; one without DSN gets a "relayed" notice from here.
    const dsnServer = client.extensions.includes('DSN');
    for (const r of accepted) {
      const o = outcome(r, 'delivered', reply.code >= 200 && reply.code < 300 ? reply.dsn : '2.0.0', reply.text, { reply: reply.text, command: endCommand });
      o.action = 'relayed';
      if (dsnServer) o.notifyPassed = true;
      outcomes.push(o);
    }
    return { outcomes, noReply: false, reusable: !client.dead, needsReset: false };
  }
  if (err?.response) {
    const reply = parseServerReply(err.response);
    const state = failureState(reply.dsn);
    const said = saidOutcome(peer, reply, commandName(err));
    for (const r of accepted) outcomes.push(outcome(r, state, reply.dsn, said.reason, said));
    return { outcomes, noReply: false, reusable: !client.dead, needsReset: true };
  }
  if (err && err.code === 'EMESSAGE' && err.command === 'MAIL FROM') {
    for (const r of accepted) outcomes.push(outcome(r, 'bounced', '5.3.4', `message size ${content.length} exceeds size limit of server ${peer}`));
    return { outcomes, noReply: false, reusable: !client.dead, needsReset: false };
  }
  // No reply: the connection broke or timed out.
  const timedOut = err?.code === 'ETIMEDOUT';
  const reason = timedOut
    ? `conversation with ${peer} timed out while ${lostStage(err!)}`
    : `lost connection with ${peer} while ${lostStage(err ?? ({} as ClientError))}`;
  for (const r of accepted) outcomes.push(outcome(r, 'deferred', '4.4.2', reason));
  client.close();
  return {
    outcomes,
    noReply: result.accepted.length === 0 && result.rejectedErrors.length === 0,
    reusable: false,
    needsReset: false,
  };
}

/** MAIL, RCPT and the content, with BDAT or DATA. */
function send(client: SmtpClient, req: DeliveryRequest, recipients: PendingRecipient[], content: Buffer, bdat: boolean, body: '' | '8BITMIME' | 'BINARYMIME', requiretls: boolean) {
  const to = recipients.map((r) => r.address);
  const params = {
    ret: req.ret,
    envid: req.envid,
    smtputf8: !!req.smtputf8,
    requiretls,
    recipients: recipients.map((r) => ({ notify: r.notify, orcpt: passedOrcpt(r) })),
  };
  if (bdat) return client.bdatTransaction(req.sender, to, params, content, body);
  return client.transaction(req.sender, to, params, content, { size: content.length, use8BitMime: body === '8BITMIME' });
}
