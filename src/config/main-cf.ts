/**
 * main-cf: parses main.cf text into `name = value` entries. Comment lines
 * (first non-blank character '#') and blank lines are skipped; a line that
 * starts with white space continues the previous logical line. Malformed
 * lines become error problems "FILE, line N: ..." and are skipped; parsing
 * never throws.
 */
import type { ConfigProblem } from './config-types.js';

/** One `name = value` setting, with the line its logical line starts on. */
export interface MainCfEntry {
  name: string;
  value: string;
  line: number;
}

/** The result of parsing main.cf: last setting of each name wins (Postfix). */
export interface MainCfParse {
  entries: MainCfEntry[];
  /** name -> raw value, the last setting of each name. */
  raw: Record<string, string>;
  /** name -> line of its last setting. */
  lines: Record<string, number>;
  problems: ConfigProblem[];
}

const NAME_RE = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;

/** Joins continuation lines; yields each logical line with its first line number. */
export function logicalLines(text: string): { text: string; line: number; orphan: boolean }[] {
  const out: { text: string; line: number; orphan: boolean }[] = [];
  const lines = text.split('\n');
  let cur: { text: string; line: number; orphan: boolean } | null = null;
  for (let i = 0; i < lines.length; i++) {
    const raw = lines[i];
    const trimmed = raw.trim();
    if (trimmed === '' || trimmed.charCodeAt(0) === 35 /* # */) continue;
    const c0 = raw.charCodeAt(0);
    if (c0 === 32 || c0 === 9) {
      if (cur) {
        cur.text += ' ' + trimmed;
      } else {
        cur = { text: trimmed, line: i + 1, orphan: true };
        out.push(cur);
      }
      continue;
    }
    cur = { text: trimmed, line: i + 1, orphan: false };
    out.push(cur);
  }
  return out;
}

/** Parses main.cf text; `file` names the file in problems. */
export function parseMainCf(text: string, file: string): MainCfParse {
  const entries: MainCfEntry[] = [];
  const raw: Record<string, string> = {};
  const lines: Record<string, number> = {};
  const problems: ConfigProblem[] = [];
  const err = (line: number, message: string): void => {
    problems.push({ severity: 'error', file, line, message });
  };
  for (const l of logicalLines(text)) {
    if (l.orphan) {
      err(l.line, `text starts with white space but continues no parameter: "${clip(l.text)}"`);
      continue;
    }
    const eq = l.text.indexOf('=');
    if (eq < 0) {
      err(l.line, `missing '=' after attribute name: "${clip(l.text)}"`);
      continue;
    }
    const name = l.text.slice(0, eq).trim();
    const value = l.text.slice(eq + 1).trim();
    if (!name) {
      err(l.line, `missing attribute name: "${clip(l.text)}"`);
      continue;
    }
    if (!NAME_RE.test(name)) {
      err(l.line, `bad parameter name: "${clip(name)}"`);
      continue;
    }
    entries.push({ name, value, line: l.line });
    raw[name] = value;
    lines[name] = l.line;
  }
  return { entries, raw, lines, problems };
}

/** Shortens hostile or long text quoted in a problem to one readable line. */
export function clip(s: string, max = 60): string {
  const clean = s.replace(/[\x00-\x1f\x7f]/g, '?');
  return clean.length > max ? clean.slice(0, max) + '...' : clean;
}
