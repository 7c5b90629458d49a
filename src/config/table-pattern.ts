/**
 * table-pattern: one pattern of a regexp: or pcre: table, compiled for
 * RE2 (the re2js port: linear-time matching, whatever the input) whenever
 * RE2 can express it. Only a pattern RE2 refuses (backreferences,
 * lookahead, and what else only a backtracking engine does) is compiled as
 * a JavaScript RegExp and marked `backtracking`: its matches must run under
 * a time budget (table-budget). PatternSet matches all the linear patterns
 * of a table in one pass (RE2Set), which costs about what one pattern does:
 * re2js pays a fixed cost per call that V8's own engine does not.
 *
 * Flags as Postfix's tables have them: matching is case-insensitive unless
 * `i` toggles it off; `m` (multi-line), and for pcre: `s` (dot matches
 * newline), `x` (white space and # comments in the pattern ignored), `A`
 * (anchored), `E`/`X` (accepted, no effect). regexp: tables get POSIX's
 * leftmost-longest match (what regexec(3) reports for $n); pcre: tables get
 * Perl's leftmost-first. POSIX [:class:] names work in both. A pattern that
 * neither engine accepts throws the JavaScript engine's message.
 *
 * re2js is loaded when the first pattern is compiled (its CommonJS build,
 * which a synchronous table open can load): a thread with no regexp: or
 * pcre: table does not carry it (about 1 MiB of heap).
 */
import { createRequire } from 'node:module';
import type { RE2JS, RE2Set } from 're2js';

type Re2js = typeof import('re2js');
let loaded: Re2js | undefined;

function re2js(): Re2js {
  return (loaded ??= createRequire(import.meta.url)('re2js') as Re2js);
}

/** A compiled table pattern. */
export interface TablePattern {
  /** Whether the key matches anywhere. */
  test(key: string): boolean;
  /** The match: [whole, $1, $2, ...] (undefined for a group that did not take part), or null. */
  exec(key: string): ArrayLike<string | undefined> | null;
  /** The number of capturing groups. */
  readonly groups: number;
  /** True when the pattern runs on the backtracking engine and needs a time budget. */
  readonly backtracking: boolean;
  /** For a linear pattern: its RE2 source with its flags inline, for a PatternSet. */
  readonly setSource?: string;
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

interface PatternFlags {
  insensitive: boolean;
  multiline: boolean;
  dotall: boolean;
}

/** Compiles `pattern` with the table's `flags` for a table of `type` ("regexp" or "pcre"). */
export function compilePattern(pattern: string, flags: string, type: string): TablePattern {
  const f: PatternFlags = { insensitive: true, multiline: false, dotall: false };
  let extended = false;
  let anchored = false;
  for (const c of flags) {
    if (c === 'i') f.insensitive = !f.insensitive;
    else if (c === 'm') f.multiline = !f.multiline;
    else if (c === 'x') extended = type === 'pcre' ? !extended : extended; // regexp: toggles POSIX extended syntax, which both engines have already
    else if (type === 'pcre' && c === 's') f.dotall = !f.dotall;
    else if (type === 'pcre' && c === 'A') anchored = true;
    else if (type === 'pcre' && (c === 'E' || c === 'X')) continue;
    else throw new Error(`unsupported flag "${c}"`);
  }
  let src = pattern.replace(/\[:([a-z]+):\]/g, (m, name: string) => POSIX_CLASSES[name] ?? m);
  if (extended) src = stripExtended(src);
  if (anchored) src = `^(?:${src})`;
  return linearPattern(src, f, type) ?? backtrackingPattern(src, f);
}

/** The RE2 compilation, or undefined when RE2 cannot express the pattern. */
function linearPattern(src: string, f: PatternFlags, type: string): TablePattern | undefined {
  const { RE2JS } = re2js();
  let flags = RE2JS.LOOKBEHINDS;
  if (f.insensitive) flags |= RE2JS.CASE_INSENSITIVE;
  if (f.multiline) flags |= RE2JS.MULTILINE;
  if (f.dotall) flags |= RE2JS.DOTALL;
  if (type === 'regexp') flags |= RE2JS.LONGEST_MATCH;
  let re: RE2JS;
  try {
    re = RE2JS.compile(src, flags);
  } catch {
    return undefined;
  }
  const inline = (f.insensitive ? 'i' : '') + (f.multiline ? 'm' : '') + (f.dotall ? 's' : '');
  return {
    test: (key) => re.test(key),
    exec: (key) => re.exec(key),
    groups: re.groupCount(),
    backtracking: false,
    setSource: inline ? `(?${inline})${src}` : src,
  };
}

/**
 * The linear patterns among a table's patterns, matched together: scan(key)
 * finds which of them match in one pass, then matched(i) answers for
 * pattern i (undefined for one not in the set: a backtracking pattern, or
 * none at that index). When the set cannot be built, every pattern is left
 * to its own test().
 */
export class PatternSet {
  private readonly set: RE2Set | undefined;
  /** Pattern index -> set id, -1 when not in the set. */
  private readonly ids: Int32Array;
  /** Set id -> the scan in which it last matched. */
  private readonly stamps: Uint32Array;
  private scanNumber = 0;

  constructor(patterns: ReadonlyArray<TablePattern | undefined>) {
    this.ids = new Int32Array(patterns.length).fill(-1);
    const sources: string[] = [];
    patterns.forEach((p, i) => {
      if (p?.setSource === undefined) return;
      this.ids[i] = sources.length;
      sources.push(p.setSource);
    });
    this.stamps = new Uint32Array(sources.length);
    if (sources.length < 2) {
      this.ids.fill(-1);
      return;
    }
    try {
      const { RE2JS: Re2, RE2Set: Re2Set } = re2js();
      const set = new Re2Set(Re2Set.UNANCHORED, Re2.LOOKBEHINDS);
      for (const src of sources) set.add(src);
      set.compile();
      this.set = set;
    } catch {
      this.ids.fill(-1);
    }
  }

  /** Matches `key` against every pattern in the set. */
  scan(key: string): void {
    if (!this.set) return;
    if (++this.scanNumber === 0xffffffff) {
      this.stamps.fill(0);
      this.scanNumber = 1;
    }
    for (const id of this.set.match(key)) this.stamps[id] = this.scanNumber;
  }

  /** Whether pattern `i` matched the last scanned key; undefined when it is not in the set. */
  matched(i: number): boolean | undefined {
    const id = this.ids[i];
    return id < 0 ? undefined : this.stamps[id] === this.scanNumber;
  }
}

/** The JavaScript RegExp compilation; throws its syntax error. */
function backtrackingPattern(src: string, f: PatternFlags): TablePattern {
  const re = new RegExp(src, (f.insensitive ? 'i' : '') + (f.multiline ? 'm' : '') + (f.dotall ? 's' : ''));
  return {
    test: (key) => re.test(key),
    exec: (key) => re.exec(key),
    groups: (new RegExp(`${re.source}|`).exec('') as RegExpExecArray).length - 1,
    backtracking: true,
  };
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
