/**
 * cleanup-addresses: the envelope through address rewriting: the sender and
 * every recipient via the rewrite service; a recipient expanding to several
 * keeps its ORCPT and NOTIFY on each; duplicates go (Postfix's duplicate
 * filter, by address compared case-insensitively, the first kept). A rewrite
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

/** Rewrites the envelope; all lookups run concurrently. */
export async function rewriteEnvelope(rewrite: RewriteFn, sender: string, recipients: RecipientSpec[]): Promise<EnvelopeResult> {
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
    for (const address of r.addresses) {
      const key = address.toLowerCase();
      if (seen.has(key)) continue;
      seen.add(key);
      const spec: RecipientSpec = { address };
      if (recipients[i].orcpt !== undefined) spec.orcpt = recipients[i].orcpt;
      if (recipients[i].notify !== undefined) spec.notify = recipients[i].notify;
      out.push(spec);
    }
  }
  return { sender: s.addresses[0] ?? sender, recipients: out };
}
