/**
 * mail-date: the date forms cleanup and bounce write: Postfix's mail_date (RFC 5322
 * with numeric zone and the zone's name, local time) and the GMT stamp in
 * generated Message-IDs. Pure; never throws.
 */

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const zoneNames = new Map<number, string>();
let zoneFormats: Intl.DateTimeFormat[] | undefined;

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** The local zone's short name at this instant ("UTC", "CET"); cached per offset. */
function zoneName(d: Date): string {
  const offset = d.getTimezoneOffset();
  let name = zoneNames.get(offset);
  if (name === undefined) {
    // en-US names American zones ("EST"), en-GB European ones ("CET"); each gives "GMT+1" for the other's.
    zoneFormats ??= ['en-US', 'en-GB'].map((l) => new Intl.DateTimeFormat(l, { timeZoneName: 'short' }));
    name = '';
    for (const f of zoneFormats) {
      name = f.formatToParts(d).find((p) => p.type === 'timeZoneName')?.value ?? '';
      if (!/^(GMT|UTC)[+-]/.test(name)) break;
    }
    if ((name === 'GMT' || name === 'UTC') && offset === 0) name = 'UTC';
    zoneNames.set(offset, name);
  }
  return name;
}

/** "Sat, 28 Nov 2026 20:31:07 +0000 (UTC)": Postfix's mail_date(), day of month space-padded as its %e. */
export function mailDate(ms: number): string {
  const d = new Date(ms);
  const off = -d.getTimezoneOffset();
  const sign = off < 0 ? '-' : '+';
  const abs = Math.abs(off);
  const day = d.getDate();
  const zone = zoneName(d);
  return (
    `${DAYS[d.getDay()]}, ${day < 10 ? ' ' + day : day} ${MONTHS[d.getMonth()]} ${d.getFullYear()} ` +
    `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())} ${sign}${pad2(Math.floor(abs / 60))}${pad2(abs % 60)}` +
    (zone && !/^(GMT|UTC)[+-]/.test(zone) ? ` (${zone})` : '')
  );
}

/** "YYYYMMDDHHMMSS" in GMT, as Postfix's generated Message-ID. */
export function gmtStamp(ms: number): string {
  const d = new Date(ms);
  return `${d.getUTCFullYear()}${pad2(d.getUTCMonth() + 1)}${pad2(d.getUTCDate())}${pad2(d.getUTCHours())}${pad2(d.getUTCMinutes())}${pad2(d.getUTCSeconds())}`;
}
