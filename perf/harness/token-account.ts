/**
 * token-account: compares the tokens the load generator had a 250 for with
 * the tokens the sink received, and lists the lost, duplicated and
 * unexpected ones. Pure; never throws.
 */
import type { TokenAccount } from './harness-types.js';

/**
 * `accepted`: tokens the generator had a 250 for (a token listed twice is
 * counted once). `received`: the sink's count per token.
 */
export function accountTokens(accepted: Iterable<string>, received: ReadonlyMap<string, number>): TokenAccount {
  const taken = new Set<string>();
  let acceptedCount = 0;
  for (const t of accepted) {
    acceptedCount++;
    taken.add(t);
  }
  let delivered = 0;
  const lost: string[] = [];
  for (const t of taken) {
    if ((received.get(t) ?? 0) > 0) delivered++;
    else lost.push(t);
  }
  const duplicated: string[] = [];
  const unexpected: string[] = [];
  for (const [t, n] of received) {
    if (n > 1) duplicated.push(t);
    if (n > 0 && !taken.has(t)) unexpected.push(t);
  }
  return { accepted: acceptedCount, delivered, lost, duplicated, unexpected };
}
