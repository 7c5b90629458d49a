/**
 * dsn-notify: whether a recipient's DSN NOTIFY (RFC 3461) asks for a notice
 * of a kind. Absent NOTIFY means the default: failure and delay, not success.
 */
import type { DsnNotify } from '../store/store-types.js';

export function notifyAllows(notify: DsnNotify[] | undefined, kind: 'failure' | 'delay' | 'success'): boolean {
  if (!notify || notify.length === 0) return kind !== 'success';
  if (notify.includes('NEVER')) return false;
  return notify.includes(kind.toUpperCase() as DsnNotify);
}
