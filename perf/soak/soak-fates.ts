/**
 * soak-fates: what the soak's sink does with each message and recipient,
 * decided by names the load generator chose, so the expected outcome of
 * every (token, recipient) is known when the message is sent:
 *
 *   recipient local part  ok-...     accepted
 *                         defer-...  450 at RCPT on the first attempt, then accepted
 *                         bounce-... 550 at RCPT (Postrider bounces it to the sender)
 *   token suffix          .ok        accepted at the end of DATA
 *                         .dd        451 at the end of DATA the first time, then accepted
 *                         .rj        554 at the end of DATA (every recipient bounces)
 *
 * Pure functions and small types; never throws.
 */

export type RecipientFate = 'ok' | 'defer' | 'bounce';
export type MessageFate = 'ok' | 'dd' | 'rj';
/** Where a recipient's copy must end: at the sink, or in a failure notice to the sender. */
export type Outcome = 'delivered' | 'bounced';

/** The header that carries a soak message's token: `X-Soak-Token: RUNID.N.FATE`. */
export const SOAK_TOKEN_HEADER = 'X-Soak-Token';
export const SOAK_SENDER = 'soak-sender@soak-src.test';
export const SOAK_RECIPIENT_DOMAIN = 'soak-dst.test';

/** A recipient address carrying its fate: `FATE-N-I@soak-dst.test`. */
export function recipientAddress(fate: RecipientFate, n: number, i: number): string {
  return `${fate}-${n}-${i}@${SOAK_RECIPIENT_DOMAIN}`;
}

/** The fate in a recipient address; ok for anything else (a notice's recipient, say). */
export function recipientFate(address: string): RecipientFate {
  const local = address.toLowerCase();
  if (local.startsWith('defer-')) return 'defer';
  if (local.startsWith('bounce-')) return 'bounce';
  return 'ok';
}

/** The fate in a token; ok when the token has none. */
export function messageFate(token: string | undefined): MessageFate {
  if (!token) return 'ok';
  const dot = token.lastIndexOf('.');
  const f = token.slice(dot + 1);
  return f === 'dd' || f === 'rj' ? f : 'ok';
}

/** Where a recipient of a message must end up. */
export function expectedOutcome(msg: MessageFate, rcpt: RecipientFate): Outcome {
  if (msg === 'rj' || rcpt === 'bounce') return 'bounced';
  return 'delivered';
}
