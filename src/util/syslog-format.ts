/**
 * syslog-format: the numbers of RFC 3164's priority field: facilities by
 * the names Postfix's syslog_facility takes, severities, and
 * priority(facility, severity) = facility * 8 + severity. Pure data; an
 * unknown facility name is undefined from facilityCode (check refuses it).
 */

/** Facility names and codes (RFC 3164 section 4.1.1, the names of syslog.h). */
export const SYSLOG_FACILITIES: ReadonlyMap<string, number> = new Map([
  ['kern', 0],
  ['user', 1],
  ['mail', 2],
  ['daemon', 3],
  ['auth', 4],
  ['syslog', 5],
  ['lpr', 6],
  ['news', 7],
  ['uucp', 8],
  ['cron', 9],
  ['authpriv', 10],
  ['ftp', 11],
  ...Array.from({ length: 8 }, (_, i): [string, number] => [`local${i}`, 16 + i]),
]);

/** The severities Postfix logs at; fatal and panic lines go out as crit, as Postfix sends them. */
export type Severity = 'info' | 'warning' | 'error' | 'fatal' | 'panic';

const SEVERITY_CODES: Record<Severity, number> = { info: 6, warning: 4, error: 3, fatal: 2, panic: 2 };

export function facilityCode(name: string): number | undefined {
  return SYSLOG_FACILITIES.get(name.trim().toLowerCase());
}

/** The PRI value of "<PRI>". */
export function priority(facility: number, severity: Severity): number {
  return facility * 8 + SEVERITY_CODES[severity];
}
