/**
 * smtpd-session-limit: how many SMTP sessions one smtpd service holds at
 * once (smtpd_session_limit, Postrider's). Postfix bounds a service by its
 * process limit (master.cf maxproc, default_process_limit) because each
 * session is a process; in Postrider maxproc counts threads and one thread
 * serves any number of sessions, so without a cap idle clients could take
 * every file descriptor of the process, and the store, the control socket
 * and outbound deliveries would fail with EMFILE.
 *
 * An explicit value is taken as is (0: no cap). Left empty, the cap is
 * derived from the process's open-file limit: a reserve of a quarter of the
 * limit (at least DESCRIPTOR_RESERVE) stays for everything that is not an
 * inbound session, and each service may use half of the rest, so the two
 * shipped listeners together never reach the reserve. Without a readable
 * limit (not Linux) FALLBACK_SESSION_LIMIT applies. Nothing here throws.
 */
import { readFileSync } from 'node:fs';

/** Descriptors kept for the journal, the control socket, logs, outbound SMTP and Node itself. */
export const DESCRIPTOR_RESERVE = 256;
/** The cap when the open-file limit cannot be read. */
export const FALLBACK_SESSION_LIMIT = 384;

/** The soft limit on open files of this process (RLIMIT_NOFILE), undefined when unknown or unlimited. */
export function openFileLimit(limitsFile = '/proc/self/limits'): number | undefined {
  let text: string;
  try {
    text = readFileSync(limitsFile, 'latin1');
  } catch {
    return undefined;
  }
  const m = /^Max open files\s+(\S+)/m.exec(text);
  if (!m || !/^\d+$/.test(m[1])) return undefined;
  return Number(m[1]);
}

/** The default session cap of one service for an open-file limit (FALLBACK_SESSION_LIMIT when unknown). */
export function defaultSessionLimit(nofile: number | undefined): number {
  if (nofile === undefined) return FALLBACK_SESSION_LIMIT;
  const reserve = Math.max(DESCRIPTOR_RESERVE, Math.floor(nofile / 4));
  return Math.max(1, Math.floor((nofile - reserve) / 2));
}
