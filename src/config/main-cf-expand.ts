/**
 * main-cf-expand: Postfix's parameter expansion over a table of raw values:
 * $name, ${name}, $(name), ${name?value}, ${name:value}, ${name?{value}},
 * ${name:{value}}, ${name?{value1}:{value2}}, the relational form
 * ${{text1} OP {text2} ? {value1} : {value2}} (OP: == != < <= > >=), and $$
 * for a literal '$'. RAW_PARAMETERS keep their text. Expansion is recursive and memoized; an undefined name
 * expands to the empty string. A reference loop or a syntax error is
 * reported through the callback (once per parameter) and expands to the
 * empty string or the literal text; nothing throws and nothing hangs.
 */

/** Called for each problem: the parameter being expanded (if any) and the text. */
export type ExpandReport = (name: string | null, message: string) => void;

const NAME_CHAR = /[A-Za-z0-9_]/;

/**
 * Parameters whose $names belong to the program that uses them, as
 * Postfix's raw parameters: local(8) expands $home, $user, $extension, ...
 * per recipient (and main.cf names as well) when it delivers.
 */
export const RAW_PARAMETERS: ReadonlySet<string> = new Set(['forward_path', 'luser_relay', 'mailbox_command']);
const MAX_DEPTH = 100;

/** Expands parameter values over one table of raw values. */
export class Expander {
  private readonly done = new Map<string, string>();
  private readonly stack: string[] = [];
  private readonly reported = new Set<string>();

  /**
   * @param raw name -> raw (unexpanded) value; names absent are undefined
   * @param report receives loops and syntax errors
   */
  constructor(
    private readonly raw: Record<string, string>,
    private readonly report: ExpandReport = () => {},
  ) {}

  /** True when the name has a value in the table (even an empty one). */
  isDefined(name: string): boolean {
    return Object.prototype.hasOwnProperty.call(this.raw, name);
  }

  /** The expanded value of a parameter ('' when undefined). */
  value(name: string): string {
    const hit = this.done.get(name);
    if (hit !== undefined) return hit;
    if (!this.isDefined(name)) return '';
    const at = this.stack.indexOf(name);
    if (at >= 0) {
      const chain = [...this.stack.slice(at), name].join(' -> ');
      this.once(this.stack[at], `recursive parameter expansion: ${chain}`);
      return '';
    }
    if (this.stack.length >= MAX_DEPTH) {
      this.once(name, 'parameter expansion nested too deeply');
      return '';
    }
    this.stack.push(name);
    let v: string;
    try {
      v = RAW_PARAMETERS.has(name) ? this.raw[name] : this.expand(this.raw[name], name);
    } finally {
      this.stack.pop();
    }
    this.done.set(name, v);
    return v;
  }

  private once(name: string | null, message: string): void {
    const key = `${name}\0${message}`;
    if (this.reported.has(key)) return;
    this.reported.add(key);
    this.report(name, message);
  }

  /** Expands text; `owner` names the parameter whose value it is, for problems. */
  expand(text: string, owner: string | null = null): string {
    if (!text.includes('$')) return text;
    let out = '';
    let i = 0;
    while (i < text.length) {
      const ch = text[i];
      if (ch !== '$') {
        out += ch;
        i++;
        continue;
      }
      const next = text[i + 1];
      if (next === '$') {
        out += '$';
        i += 2;
        continue;
      }
      if (next !== undefined && NAME_CHAR.test(next)) {
        let j = i + 1;
        while (j < text.length && NAME_CHAR.test(text[j])) j++;
        out += this.value(text.slice(i + 1, j));
        i = j;
        continue;
      }
      if (next === '{' || next === '(') {
        const close = next === '{' ? '}' : ')';
        const end = matching(text, i + 1, next, close);
        if (end < 0) {
          this.once(owner, `unmatched "${next}" in "${text}"`);
          out += text.slice(i);
          break;
        }
        out += this.expandGroup(text.slice(i + 2, end), owner, text);
        i = end + 1;
        continue;
      }
      this.once(owner, `"$" not followed by a parameter name in "${text}" (write $$ for a literal "$")`);
      out += '$';
      i++;
    }
    return out;
  }

  /** The inside of ${...} or $(...). */
  private expandGroup(inner: string, owner: string | null, whole: string): string {
    const body = inner.trim();
    if (body.startsWith('{')) return this.relational(body, owner, whole);
    let j = 0;
    while (j < body.length && NAME_CHAR.test(body[j])) j++;
    const name = body.slice(0, j);
    if (!name) {
      this.once(owner, `missing parameter name in "${whole}"`);
      return '';
    }
    const rest = body.slice(j).trimStart();
    if (rest === '') return this.value(name);
    const op = rest[0];
    if (op !== '?' && op !== ':') {
      this.once(owner, `unexpected "${op}" after parameter name in "${whole}"`);
      return '';
    }
    const nonEmpty = this.value(name) !== '';
    const arg = rest.slice(1).trimStart();
    if (!arg.startsWith('{')) {
      // Legacy form: the rest is the value, expanded only when chosen.
      const chosen = op === '?' ? nonEmpty : !nonEmpty;
      return chosen ? this.expand(arg, owner) : '';
    }
    const parts = braced(arg);
    if (!parts || parts.length > 2 || (parts.length === 2 && op !== '?')) {
      this.once(owner, `bad conditional expression in "${whole}"`);
      return '';
    }
    if (op === ':') return nonEmpty ? '' : this.expand(parts[0], owner);
    if (nonEmpty) return this.expand(parts[0], owner);
    return parts.length === 2 ? this.expand(parts[1], owner) : '';
  }

  /** ${{text1} OP {text2} ? {value1} : {value2}} */
  private relational(body: string, owner: string | null, whole: string): string {
    const m = /^(\{[\s\S]*?\})\s*(==|!=|<=|>=|<|>)\s*(\{[\s\S]*)$/.exec(body);
    const left = m ? braced(m[1]) : null;
    const tail = m ? splitAfterFirstGroup(m[3]) : null;
    if (!m || !left || left.length !== 1 || !tail) {
      this.once(owner, `bad relational expression in "${whole}"`);
      return '';
    }
    const [rightText, afterRight] = tail;
    const q = afterRight.trimStart();
    const choices = q.startsWith('?') ? braced(q.slice(1).trimStart()) : null;
    if (!choices || choices.length > 2) {
      this.once(owner, `bad relational expression in "${whole}"`);
      return '';
    }
    const a = this.expand(left[0], owner).trim();
    const b = this.expand(rightText, owner).trim();
    let result: boolean;
    if (m[2] === '==' || m[2] === '!=') {
      result = (a === b) === (m[2] === '==');
    } else {
      if (!/^-?\d+$/.test(a) || !/^-?\d+$/.test(b)) {
        this.once(owner, `non-numeric operand in "${whole}"`);
        return '';
      }
      const x = Number(a);
      const y = Number(b);
      result = m[2] === '<' ? x < y : m[2] === '<=' ? x <= y : m[2] === '>' ? x > y : x >= y;
    }
    if (result) return this.expand(choices[0], owner);
    return choices.length === 2 ? this.expand(choices[1], owner) : '';
  }
}

/** Index of the bracket closing the one at `open`, honouring nesting; -1 if none. */
function matching(s: string, open: number, o: string, c: string): number {
  let depth = 0;
  for (let k = open; k < s.length; k++) {
    if (s[k] === o) depth++;
    else if (s[k] === c && --depth === 0) return k;
  }
  return -1;
}

/** "{a}" or "{a}:{b}" -> ["a"] / ["a","b"] (contents trimmed); null when malformed. */
function braced(s: string): string[] | null {
  const first = splitAfterFirstGroup(s);
  if (!first) return null;
  const rest = first[1].trim();
  if (rest === '') return [first[0]];
  if (!rest.startsWith(':')) return null;
  const second = splitAfterFirstGroup(rest.slice(1).trimStart());
  if (!second || second[1].trim() !== '') return null;
  return [first[0], second[0]];
}

/** "{x} tail" -> ["x" trimmed, " tail"]; null when s does not start with a balanced group. */
function splitAfterFirstGroup(s: string): [string, string] | null {
  const t = s.trimStart();
  if (!t.startsWith('{')) return null;
  const end = matching(t, 0, '{', '}');
  if (end < 0) return null;
  return [t.slice(1, end).trim(), t.slice(end + 1)];
}

/** Names referenced as $name, ${name...} or $(name...) anywhere in a raw value. */
export function referencedNames(text: string): string[] {
  const out: string[] = [];
  const re = /\$(?:([A-Za-z0-9_]+)|[{(]\s*([A-Za-z0-9_]+))/g;
  const clean = text.replace(/\$\$/g, '');
  for (let m = re.exec(clean); m; m = re.exec(clean)) out.push(m[1] ?? m[2]);
  return out;
}
