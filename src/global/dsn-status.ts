/**
 * dsn-status: what an RFC 3463 status code means for a recipient, decided in
 * one place for every delivery agent: a 4.x.y status is a temporary failure
 * (the recipient is deferred and retried), any other failure status is
 * permanent (bounced). softDsn() gives the 4.x.y counterpart of a 5.x.y for
 * the cases where Postfix defers what it would otherwise bounce (the retry
 * transport, a 5xx greeting or STARTTLS refusal). splitDsnText() takes a
 * leading status code off a reason text. Pure functions; nothing throws.
 */

/** The state of a recipient whose delivery failed with this status. */
export type FailureState = 'deferred' | 'bounced';

/** True for a temporary failure status (class 4). */
export function isSoftDsn(dsn: string): boolean {
  return dsn.startsWith('4.');
}

/** "deferred" for a 4.x.y status, "bounced" for any other. */
export function failureState(dsn: string): FailureState {
  return isSoftDsn(dsn) ? 'deferred' : 'bounced';
}

/** A 5.x.y status as its 4.x.y counterpart; any other status unchanged. */
export function softDsn(dsn: string): string {
  return dsn.startsWith('5.') ? `4.${dsn.slice(2)}` : dsn;
}

/** Splits "4.x.y text" / "5.x.y text" into dsn and text (Postfix's dsn_split); without a leading code, `defaultDsn` and the whole text. */
export function splitDsnText(text: string, defaultDsn: string): { dsn: string; text: string } {
  const m = /^([245])\.(\d{1,3})\.(\d{1,3})(?:\s+|$)([\s\S]*)$/.exec(text.trim());
  if (!m) return { dsn: defaultDsn, text: text.trim() };
  return { dsn: `${m[1]}.${m[2]}.${m[3]}`, text: m[4] };
}
