/**
 * main-cf-edit: postconf's in-place edits of main.cf text: set
 * (postconf -e), remove (-X) and comment out (-#). Every logical line
 * (with its continuation lines) that sets an edited name is replaced,
 * dropped or prefixed with '#'; names not set yet are appended by set.
 * Comments, blank lines and the order of every other line stay as they
 * are. Pure functions on text; parseSetting throws on an argument that is
 * not name=value.
 */

/** "name=value" or "name = value" (one argument, as postconf -e takes it). */
export function parseSetting(arg: string): { name: string; value: string } {
  const eq = arg.indexOf('=');
  const name = eq < 0 ? '' : arg.slice(0, eq).trim();
  if (!/^[A-Za-z0-9_][A-Za-z0-9_.-]*$/.test(name)) throw new Error(`bad parameter setting: "${arg}" (expected name=value)`);
  return { name, value: arg.slice(eq + 1).trim() };
}

/** What an edit did: the new text, and the names set more than once (postconf warns of them). */
export interface EditResult {
  text: string;
  duplicates: string[];
}

type LineAction = (name: string, lines: string[]) => string[];

/** Applies `action` to each logical line setting a name of `names`; the rest is copied. */
function editLines(text: string, names: ReadonlySet<string>, action: LineAction): { lines: string[]; found: Map<string, number> } {
  const src = text.split('\n');
  // A trailing newline leaves an empty last element; it is restored by the caller's join.
  const out: string[] = [];
  const found = new Map<string, number>();
  for (let i = 0; i < src.length; i++) {
    const line = src[i];
    const m = /^([A-Za-z0-9_][A-Za-z0-9_.-]*)\s*=/.exec(line);
    if (!m || !names.has(m[1])) {
      out.push(line);
      continue;
    }
    const group = [line];
    // Continuation lines start with white space and are not blank.
    while (i + 1 < src.length && /^[ \t]+\S/.test(src[i + 1]) && !/^\s*#/.test(src[i + 1])) group.push(src[++i]);
    found.set(m[1], (found.get(m[1]) ?? 0) + 1);
    out.push(...action(m[1], group));
  }
  return { lines: out, found };
}

function finish(lines: string[], found: Map<string, number>): EditResult {
  let text = lines.join('\n');
  if (text !== '' && !text.endsWith('\n')) text += '\n';
  return { text, duplicates: [...found].filter(([, n]) => n > 1).map(([name]) => name) };
}

/** postconf -e: each setting replaces the lines of its name, or is appended. */
export function setParameters(text: string, settings: { name: string; value: string }[]): EditResult {
  const values = new Map(settings.map((s) => [s.name, s.value]));
  const render = (name: string): string => (values.get(name) === '' ? `${name} =` : `${name} = ${values.get(name)}`);
  const { lines, found } = editLines(text, new Set(values.keys()), (name) => [render(name)]);
  while (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  for (const name of values.keys()) if (!found.has(name)) lines.push(render(name));
  lines.push('');
  return finish(lines, found);
}

/** postconf -X: the lines of each name are removed. */
export function removeParameters(text: string, names: string[]): EditResult {
  const { lines, found } = editLines(text, new Set(names), () => []);
  return finish(lines, found);
}

/** postconf -#: the lines of each name are commented out. */
export function commentOutParameters(text: string, names: string[]): EditResult {
  const { lines, found } = editLines(text, new Set(names), (_name, group) => group.map((l) => `#${l}`));
  return finish(lines, found);
}
