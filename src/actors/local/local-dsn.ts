/**
 * local-dsn: what RFC 3461 section 6.2 asks of a local alias or .forward
 * that expands a recipient, as Postfix's local(8) does it. The expansions
 * get the recipient's NOTIFY without SUCCESS (NEVER when SUCCESS was all),
 * so the sender is not flooded with "delivered" notices from each of them;
 * instead the recipient itself gets one success notice whose action is
 * "expanded" (or "delivered" when an owner- alias made the expansion a
 * mailing list with its own envelope sender, which RFC 3461 treats as a
 * final delivery). Pure functions; never throw.
 */
import type { DsnNotify } from '../../store/store-types.js';

/** Postfix's reason text in the notice: "<alias@domain>: alias expanded". */
export const EXPANDED_REASON = 'alias expanded';

/** The NOTIFY an expansion inherits: SUCCESS removed, NEVER when nothing is left; unchanged without SUCCESS. */
export function notifyForExpansion(notify: DsnNotify[] | undefined): DsnNotify[] | undefined {
  if (!notify || !notify.includes('SUCCESS')) return notify;
  const rest = notify.filter((n) => n !== 'SUCCESS');
  return rest.length > 0 ? rest : ['NEVER'];
}

/**
 * The success outcome of a recipient whose delivery went through an alias
 * or .forward: "expanded" with Postfix's words when it asked for a success
 * notice, undefined when the ordinary outcome stands (no expansion, no
 * NOTIFY=SUCCESS, or a list whose owner- alias took over as sender).
 */
export function expandedOutcome(expanded: boolean, ownerSender: boolean, notify: DsnNotify[] | undefined): { action: 'expanded'; dsn: string; reason: string } | undefined {
  if (!expanded || ownerSender || !notify?.includes('SUCCESS')) return undefined;
  return { action: 'expanded', dsn: '2.0.0', reason: EXPANDED_REASON };
}
