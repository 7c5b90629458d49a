/**
 * table-regexp: Postfix regexp: and pcre: tables (regexp_table(5),
 * pcre_table(5)) on JavaScript RegExp. Lines: `/pattern/flags result`,
 * `!/pattern/flags result`, `if /pattern/flags` ... `endif` blocks (nested),
 * '#' comments, continuation lines. Matching is case-insensitive unless the
 * `i` flag toggles it off; `m`, `s`, `x` (pcre: ignore white space and #
 * comments in the pattern) are supported; $1..$9, ${n}, $(n) and $$ are
 * substituted in the result. Any malformed line throws ConfigError naming
 * the table spec, file and line.
 */
import type { LookupTable } from './table-types.js';
import { readRules, type TableRule } from './table-rules.js';

interface Rule extends TableRule {
  re?: RegExp;
  negate?: boolean;
  result?: string;
}

const POSIX_CLASSES: Record<string, string> = {
  alpha: 'a-zA-Z',
  digit: '0-9',
  alnum: 'a-zA-Z0-9',
  upper: 'A-Z',
  lower: 'a-z',
  space: '\\s',
  blank: ' \\t',
  punct: '!-\\/:-@\\[-`{-~',
  xdigit: '0-9A-Fa-f',
  cntrl: '\\x00-\\x1f\\x7f',
  print: '\\x20-\\x7e',
  graph: '\\x21-\\x7e',
};

/** Reads "/pattern/flags" at the start of text; returns the parts and the rest. */
function readPattern(text: string): { pattern: string; flags: string; rest: string } | null {
  const delim = text[0];
  if (!delim || /[\sA-Za-z0-9\\]/.test(delim)) return null;
  let k = 1;
  let pattern = '';
  for (; k < text.length; k++) {
    const c = text[k];
    if (c === '\\' && text[k + 1] === delim) {
      // An escaped delimiter stands for the character itself.
      pattern += delim === '/' ? '\\/' : delim;
      k++;
      continue;
    }
    if (c === delim) break;
    pattern += c;
  }
  if (k >= text.length) return null;
  let j = k + 1;
  while (j < text.length && /[A-Za-z]/.test(text[j])) j++;
  return { pattern, flags: text.slice(k + 1, j), rest: text.slice(j) };
}

function compile(pattern: string, flags: string, type: string): RegExp {
  let insensitive = true;
  let multiline = false;
  let dotall = false;
  let extended = false;
  let anchored = false;
  for (const f of flags) {
    if (f === 'i') insensitive = !insensitive;
    else if (f === 'm') multiline = !multiline;
    else if (f === 'x') extended = type === 'pcre' ? !extended : extended; // regexp: toggles POSIX extended syntax, which is JS's already
    else if (type === 'pcre' && f === 's') dotall = !dotall;
    else if (type === 'pcre' && f === 'A') anchored = true;
    else if (type === 'pcre' && (f === 'E' || f === 'X')) continue;
    else throw new Error(`unsupported flag "${f}"`);
  }
  let src = pattern.replace(/\[:([a-z]+):\]/g, (m, name: string) => POSIX_CLASSES[name] ?? m);
  if (extended) src = stripExtended(src);
  if (anchored) src = `^(?:${src})`;
  return new RegExp(src, (insensitive ? 'i' : '') + (multiline ? 'm' : '') + (dotall ? 's' : ''));
}

/** PCRE's x flag: unescaped white space and # comments in the pattern are ignored. */
function stripExtended(src: string): string {
  let out = '';
  for (let k = 0; k < src.length; k++) {
    const c = src[k];
    if (c === '\\') {
      out += src.slice(k, k + 2);
      k++;
    } else if (c === '#') {
      while (k < src.length && src[k] !== '\n') k++;
    } else if (!/\s/.test(c)) {
      out += c;
    }
  }
  return out;
}

/** Substitutes $1..$9 (also ${n}, $(n)) and $$ in a result. */
function substitute(result: string, m: RegExpExecArray): string {
  return result.replace(/\$(\$|\d|\{(\d+)\}|\((\d+)\))/g, (_all, a: string, b?: string, c?: string) => {
    if (a === '$') return '$';
    const n = Number(b ?? c ?? a);
    return m[n] ?? '';
  });
}

function maxGroupRef(result: string): number {
  let max = 0;
  const re = /\$(\$|\d|\{(\d+)\}|\((\d+)\))/g;
  for (let m = re.exec(result); m; m = re.exec(result)) {
    if (m[1] !== '$') max = Math.max(max, Number(m[2] ?? m[3] ?? m[1]));
  }
  return max;
}

function groupCount(re: RegExp): number {
  return (new RegExp(`${re.source}|`).exec('') as RegExpExecArray).length - 1;
}

class PatternTable implements LookupTable {
  constructor(
    readonly spec: string,
    readonly type: string,
    private readonly rules: Rule[],
  ) {}

  get(key: string): string | undefined {
    const rules = this.rules;
    for (let k = 0; k < rules.length; k++) {
      const r = rules[k];
      if (r.kind === 'endif') continue;
      const re = r.re as RegExp;
      const m = re.exec(key);
      if (r.kind === 'if') {
        if ((m !== null) === r.negate) k = r.end as number;
        continue;
      }
      if (r.negate) {
        if (m === null) return r.result;
        continue;
      }
      if (m) return substitute(r.result as string, m);
    }
    return undefined;
  }

  getPartial(): undefined {
    return undefined;
  }
}

/** Builds a regexp: or pcre: table from its file text. */
export function openPatternTable(spec: string, type: string, file: string, text: string): LookupTable {
  const rules = readRules<Rule>(spec, file, text, (body, isIf, fail) => {
    const negate = body.startsWith('!');
    const pat = readPattern(negate ? body.slice(1).trimStart() : body);
    if (!pat) return fail(`bad regular expression syntax: "${isIf ? 'if ' : ''}${body}"`);
    const { pattern, flags, rest } = pat;
    let re: RegExp;
    try {
      re = compile(pattern, flags, type);
    } catch (e) {
      return fail(`bad regular expression "${pattern}": ${(e as Error).message}`);
    }
    const result = rest.trim();
    if (isIf) {
      if (result) fail('ignoring extra text after IF statement');
      return { kind: 'if', re, negate };
    }
    if (!result) fail(`no replacement text: "${body}"`);
    if (!/^\s/.test(rest)) fail('missing white space before the result');
    const need = maxGroupRef(result);
    if (negate && need > 0) fail('$number found in negative match replacement text');
    if (need > groupCount(re)) fail(`out of range replacement index "${need}"`);
    return { kind: 'match', re, negate, result };
  });
  return new PatternTable(spec, type, rules);
}
