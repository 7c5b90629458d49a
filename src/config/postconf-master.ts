/**
 * postconf-master: master.cf as postconf -M and -P print it. -M: each
 * service entry on one line, its eight columns padded as Postfix pads them
 * (name 10, type 5, the next five 7), then the command and its arguments;
 * filters `service` or `service/type`. -P: each -o setting as
 * `service/type/name = value`; filters `service/type/name` (a part may be
 * empty to match any). Malformed entries are skipped: `check` reports them.
 * Pure functions; nothing throws.
 */
import { logicalLines } from './main-cf.js';
import { tokenize } from './master-cf.js';

interface Entry {
  fields: string[];
}

function entries(text: string): Entry[] {
  return logicalLines(text)
    .filter((l) => !l.orphan)
    .map((l) => ({ fields: tokenize(l.text) }))
    .filter((e) => e.fields.length >= 8);
}

const WIDTHS = [10, 5, 7, 7, 7, 7, 7];

/** postconf -M [service[/type] ...]. */
export function formatMasterEntries(text: string, filters: string[] = []): string {
  const wanted = (name: string, type: string): boolean =>
    filters.length === 0 ||
    filters.some((f) => {
      const [s, t] = f.split('/');
      return s === name && (t === undefined || t === type);
    });
  let out = '';
  for (const e of entries(text)) {
    const [name, type] = e.fields;
    if (!wanted(name, type)) continue;
    const cols = e.fields.slice(0, 7).map((f, i) => f.padEnd(WIDTHS[i]));
    out += [...cols, e.fields.slice(7).join(' ')].join(' ').trimEnd() + '\n';
  }
  return out;
}

/** The -o settings of one entry, in order. */
function overrides(fields: string[]): { name: string; value: string }[] {
  const out: { name: string; value: string }[] = [];
  const rest = fields.slice(8);
  for (let k = 0; k < rest.length; k++) {
    let spec: string | undefined;
    if (rest[k] === '-o') spec = rest[++k];
    else if (rest[k].startsWith('-o') && rest[k].length > 2) spec = rest[k].slice(2);
    if (spec === undefined) continue;
    if (spec.startsWith('{') && spec.endsWith('}')) spec = spec.slice(1, -1).trim();
    const eq = spec.indexOf('=');
    if (eq > 0) out.push({ name: spec.slice(0, eq).trim(), value: spec.slice(eq + 1).trim() });
  }
  return out;
}

/** postconf -P [service/type/name ...]. */
export function formatServiceParameters(text: string, filters: string[] = []): string {
  const wanted = (s: string, t: string, n: string): boolean =>
    filters.length === 0 ||
    filters.some((f) => {
      const [fs, ft, fn] = f.split('/');
      return (!fs || fs === s) && (!ft || ft === t) && (!fn || fn === n);
    });
  let out = '';
  for (const e of entries(text)) {
    const [service, type] = e.fields;
    for (const o of overrides(e.fields)) {
      if (!wanted(service, type, o.name)) continue;
      out += o.value === '' ? `${service}/${type}/${o.name} =\n` : `${service}/${type}/${o.name} = ${o.value}\n`;
    }
  }
  return out;
}
