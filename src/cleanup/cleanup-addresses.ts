/**
 * cleanup-addresses: the envelope through address rewriting: the sender and
 * every recipient via the rewrite service; a recipient expanding to several
 * keeps its ORCPT and NOTIFY on each, and each rewritten one records the
 * address as received (origRcpt, Postfix's orig_rcpt) for orig_to= in the
 * logs, X-Original-To and the notices' Original-Recipient. Duplicates go
 * (Postfix's duplicate filter: with enable_original_recipient = yes the
 * final address together with the original one, the ORCPT and NOTIFY, the
 * addresses compared case-insensitively, the first kept, so two aliases of
 * one mailbox still give two recipients, as in Postfix; with it off, the
 * final address alone). A rewrite
 * error comes back as `error` (e.g. "4.6.0 Alias expansion error"); a
 * rewrite service that throws is reported as "4.3.0" with its message.
 */
import type { RecipientSpec } from '../store/store-types.js';
import type { RewriteFn } from './cleanup-types.js';

export type EnvelopeResult =
  | { sender: string; recipients: RecipientSpec[] }
  | { error: string; address: string };

async function call(rewrite: RewriteFn, address: string, role: 'sender' | 'recipient') {
  try {
    return await rewrite(address, role);
  } catch (err) {
    return { addresses: [address], error: `4.3.0 address rewriting failed: ${(err as Error).message}` };
  }
}

/**
 * Rewrites the envelope; all lookups run concurrently. With `keepOriginal`
 * false (enable_original_recipient = no) no origRcpt is recorded and
 * duplicates are found by the final address alone, as in Postfix.
 */
export async function rewriteEnvelope(rewrite: RewriteFn, sender: string, recipients: RecipientSpec[], keepOriginal = true): Promise<EnvelopeResult> {
  const [s, ...rs] = await Promise.all([
    sender === '' ? { addresses: [''] } : call(rewrite, sender, 'sender'),
    ...recipients.map((r) => call(rewrite, r.address, 'recipient')),
  ]);
  if ('error' in s && s.error) return { error: s.error, address: sender };
  const out: RecipientSpec[] = [];
  const seen = new Set<string>();
  for (let i = 0; i < rs.length; i++) {
    const r = rs[i];
    if (r.error) return { error: r.error, address: recipients[i].address };
    const given = recipients[i];
    const orig = keepOriginal ? (given.origRcpt ?? given.address) : '';
    for (const address of r.addresses) {
      const key = keepOriginal
        ? `${given.orcpt ?? ''}\n${given.notify?.join(',') ?? ''}\n${orig.toLowerCase()}\n${address.toLowerCase()}`
        : address.toLowerCase();
      if (seen.has(key)) continue;
      seen.add(key);
      const spec: RecipientSpec = { address };
      if (given.orcpt !== undefined) spec.orcpt = given.orcpt;
      if (given.notify !== undefined) spec.notify = given.notify;
      if (keepOriginal && address !== orig) spec.origRcpt = orig;
      out.push(spec);
    }
  }
  return { sender: s.addresses[0] ?? sender, recipients: out };
}
