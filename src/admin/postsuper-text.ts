/**
 * postsuper-text: the words Postfix's postsuper prints and logs for each
 * queue action: one line per message ("ID: placed on hold") and a summary
 * ("Placed on hold: 2 messages"), written only when something changed, as
 * postsuper does. Pure strings; never throws.
 */
import type { AdminAction } from '../store/store-types.js';

const PER_MESSAGE: Record<AdminAction, string> = {
  delete: 'removed',
  hold: 'placed on hold',
  release: 'released from hold',
  requeue: 'requeued',
};

const SUMMARY: Record<AdminAction, string> = {
  delete: 'Deleted',
  hold: 'Placed on hold',
  release: 'Released from hold',
  requeue: 'Requeued',
};

/** "ID: placed on hold". */
export function perMessageLine(action: AdminAction, queueId: string): string {
  return `${queueId}: ${PER_MESSAGE[action]}`;
}

/** "Deleted: 3 messages"; undefined for none (postsuper says nothing then). */
export function summaryLine(action: AdminAction, count: number): string | undefined {
  if (count <= 0) return undefined;
  return `${SUMMARY[action]}: ${count} message${count > 1 ? 's' : ''}`;
}
