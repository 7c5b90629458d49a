/**
 * table-rules: the rule-file walk shared by cidr: and regexp:/pcre: tables.
 * readRules() reads logical lines in file order, keeps `if` ... `endif`
 * blocks (nested) balanced, and hands every other line to the table's own
 * rule parser. Any bad line throws ConfigError naming the table spec, file
 * and line.
 */
import { ConfigError } from './main-config.js';
import { logicalLines } from './main-cf.js';

/** One rule; an 'if' rule's `end` is the index of its matching 'endif'. */
export interface TableRule {
  kind: 'match' | 'if' | 'endif';
  end?: number;
}

/**
 * Parses one rule. `body` is the trimmed line, without the `if` keyword when
 * `isIf` is set; `fail` throws the ConfigError for this line; `line` is its
 * number in the file.
 */
export type RuleParser<R extends TableRule> = (body: string, isIf: boolean, fail: (why: string) => never, line: number) => R;

/** Reads a rule file into rules; 'endif' rules are `{ kind: 'endif' }`. */
export function readRules<R extends TableRule>(spec: string, file: string, text: string, parse: RuleParser<R>): R[] {
  const rules: R[] = [];
  const open: number[] = [];
  for (const l of logicalLines(text)) {
    const fail = (why: string): never => {
      throw new ConfigError(`table ${spec}: ${file}, line ${l.line}: ${why}`);
    };
    const t = l.text.trim();
    if (l.orphan) fail('text starts with white space but continues no rule');
    if (/^endif\b/i.test(t)) {
      if (t.toLowerCase() !== 'endif') fail('ignoring extra text after ENDIF');
      const at = open.pop();
      if (at === undefined) return fail('ignoring ENDIF without matching IF');
      rules[at].end = rules.length;
      // Every rule type's fields besides `kind` are optional.
      rules.push({ kind: 'endif' } as R);
      continue;
    }
    const isIf = /^if\s/i.test(t);
    const rule = parse(isIf ? t.slice(2).trimStart() : t, isIf, fail, l.line);
    if (rule.kind === 'if') open.push(rules.length);
    rules.push(rule);
  }
  if (open.length > 0) throw new ConfigError(`table ${spec}: ${file}: IF has no matching ENDIF`);
  return rules;
}
