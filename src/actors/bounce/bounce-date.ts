/**
 * bounce-date: the date forms a delivery status notification uses, as
 * Postfix's mail_date() writes them: "Sat, 28 Nov 2026 20:33:07 +0000 (UTC)"
 * in local time, day of month padded with a space. Never throws.
 */

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

let zoneFormat: Intl.DateTimeFormat | undefined;
let zoneFormatFor: string | undefined;

/** The zone's short name ("UTC", "CET") when the runtime knows it, else "". */
function zoneName(d: Date): string {
  try {
    // Building a formatter costs far more than using one; rebuild only when TZ changes.
    if (!zoneFormat || zoneFormatFor !== process.env.TZ) {
      zoneFormat = new Intl.DateTimeFormat('en-US', { timeZoneName: 'short' });
      zoneFormatFor = process.env.TZ;
    }
    const part = zoneFormat
      .formatToParts(d)
      .find((p) => p.type === 'timeZoneName');
    const name = part?.value ?? '';
    // Only a plain abbreviation belongs in the comment; "GMT+1" forms do not.
    return /^[A-Z]{2,5}$/.test(name) ? name : '';
  } catch {
    return '';
  }
}

/** RFC 5322 date-time in local time, with the zone name as a comment when known. */
export function mailDate(ms: number): string {
  const d = new Date(ms);
  const day = d.getDate();
  const offsetMin = -d.getTimezoneOffset();
  const sign = offsetMin < 0 ? '-' : '+';
  const abs = Math.abs(offsetMin);
  const zone = zoneName(d);
  return (
    `${DAYS[d.getDay()]}, ${day < 10 ? ' ' + day : day} ${MONTHS[d.getMonth()]} ${d.getFullYear()} ` +
    `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())} ` +
    `${sign}${pad2(Math.floor(abs / 60))}${pad2(abs % 60)}` +
    (zone ? ` (${zone})` : '')
  );
}

/** Compact local timestamp for Message-Id left parts: YYYYMMDDhhmmss. */
export function stampDate(ms: number): string {
  const d = new Date(ms);
  return (
    `${d.getFullYear()}${pad2(d.getMonth() + 1)}${pad2(d.getDate())}` +
    `${pad2(d.getHours())}${pad2(d.getMinutes())}${pad2(d.getSeconds())}`
  );
}
