/**
 * table-regexp: Postfix regexp: and pcre: tables (regexp_table(5),
 * pcre_table(5)). Lines: `/pattern/flags result`, `!/pattern/flags result`,
 * `if /pattern/flags` ... `endif` blocks (nested), '#' comments,
 * continuation lines. Patterns and flags are compiled by table-pattern: on
 * RE2, in linear time, whenever RE2 can express them, and a lookup matches
 * the key against all of them in one pass; $1..$9, ${n}, $(n) and $$ are
 * substituted in the result. Any malformed line throws
 * ConfigError naming the table spec, file and line.
 *
 * A table with a pattern that needs the backtracking engine says so
 * (`backtracking`); a lookup in it made outside a time-budget scope opens
 * its own (LOOKUP_BUDGET_MS). When the budget runs out the lookup throws
 * TableLookupError naming the rule, and the caller fails temporarily, as
 * for any table that cannot answer.
 */
import type { LookupTable } from './table-types.js';
import { LOOKUP_BUDGET_MS, inMatchBudget, noteRunningRule, withMatchBudget } from './table-budget.js';
import { compilePattern, PatternSet, type TablePattern } from './table-pattern.js';
import { readRules, type TableRule } from './table-rules.js';

interface Rule extends TableRule {
  pattern?: TablePattern;
  negate?: boolean;
  result?: string;
  /** The result has $n: the match's groups are needed, not only whether it matched. */
  substitutes?: boolean;
  /** "pcre map FILE, line N", named when this rule's budget runs out. */
  where?: string;
}

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

const GROUP_REF = /\$(\$|\d|\{(\d+)\}|\((\d+)\))/g;

/** Substitutes $1..$9 (also ${n}, $(n)) and $$ in a result. */
function substitute(result: string, m: ArrayLike<string | undefined>): string {
  return result.replace(GROUP_REF, (_all, a: string, b?: string, c?: string) => {
    if (a === '$') return '$';
    const n = Number(b ?? c ?? a);
    return m[n] ?? '';
  });
}

/** The highest $n in a result, -1 when it has none (a bare $$ counts as 0). */
function maxGroupRef(result: string): number {
  let max = -1;
  for (const m of result.matchAll(GROUP_REF)) max = Math.max(max, m[1] === '$' ? 0 : Number(m[2] ?? m[3] ?? m[1]));
  return max;
}

class PatternTable implements LookupTable {
  readonly backtracking: boolean;
  private readonly linear: PatternSet;

  constructor(
    readonly spec: string,
    readonly type: string,
    private readonly rules: Rule[],
  ) {
    this.backtracking = rules.some((r) => r.pattern?.backtracking === true);
    this.linear = new PatternSet(rules.map((r) => r.pattern));
  }

  get(key: string): string | undefined {
    if (this.backtracking && !inMatchBudget()) return withMatchBudget(LOOKUP_BUDGET_MS, () => this.lookup(key));
    return this.lookup(key);
  }

  getPartial(): undefined {
    return undefined;
  }

  private lookup(key: string): string | undefined {
    const rules = this.rules;
    const linear = this.linear;
    linear.scan(key);
    for (let k = 0; k < rules.length; k++) {
      const r = rules[k];
      if (r.kind === 'endif') continue;
      const p = r.pattern as TablePattern;
      let hit = linear.matched(k);
      if (hit === undefined) {
        if (p.backtracking) noteRunningRule(r.where as string);
        hit = p.test(key);
      }
      if (r.kind === 'if') {
        if (hit === r.negate) k = r.end as number;
        continue;
      }
      if (r.negate) {
        if (!hit) return r.result;
        continue;
      }
      if (!hit) continue;
      if (!r.substitutes) return r.result;
      const m = p.exec(key);
      if (m) return substitute(r.result as string, m);
    }
    return undefined;
  }
}

/** Builds a regexp: or pcre: table from its file text. */
export function openPatternTable(spec: string, type: string, file: string, text: string): LookupTable {
  const rules = readRules<Rule>(spec, file, text, (body, isIf, fail, line) => {
    const negate = body.startsWith('!');
    const pat = readPattern(negate ? body.slice(1).trimStart() : body);
    if (!pat) return fail(`bad regular expression syntax: "${isIf ? 'if ' : ''}${body}"`);
    const { pattern: source, flags, rest } = pat;
    let pattern: TablePattern;
    try {
      pattern = compilePattern(source, flags, type);
    } catch (e) {
      return fail(`bad regular expression "${source}": ${(e as Error).message}`);
    }
    const where = `${type} map ${file}, line ${line}`;
    const result = rest.trim();
    if (isIf) {
      if (result) fail('ignoring extra text after IF statement');
      return { kind: 'if', pattern, negate, where };
    }
    if (!result) fail(`no replacement text: "${body}"`);
    if (!/^\s/.test(rest)) fail('missing white space before the result');
    const need = maxGroupRef(result);
    if (negate && need > 0) fail('$number found in negative match replacement text');
    if (need > pattern.groups) fail(`out of range replacement index "${need}"`);
    return { kind: 'match', pattern, negate, result, substitutes: need >= 0, where };
  });
  return new PatternTable(spec, type, rules);
}
