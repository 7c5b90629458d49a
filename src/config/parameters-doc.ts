/**
 * parameters-doc: the README's table of main.cf parameters, generated from
 * the code's own table (PARAMETERS) so the documentation cannot drift from
 * what the checker and the daemon know. The generated part sits between the
 * markers `<!-- parameters:begin -->` and `<!-- parameters:end -->`.
 *
 * Run as a program: `node dist/src/config/parameters-doc.js` prints the
 * table; `--write [README]` rewrites the marked part of README.md (default:
 * the project's); `--check [README]` exits 1 when it differs. A README
 * without both markers is an error (ParametersDocError, code
 * ERR_NO_MARKERS), printed as one line, exit 1.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { PARAMETERS, type ParameterInfo } from './parameters.js';
import { defaultReadmePath } from '../util/readme-path.js';

export { defaultReadmePath };

export const BEGIN_MARKER = '<!-- parameters:begin -->';
export const END_MARKER = '<!-- parameters:end -->';

/** A README that cannot take the generated table. */
export class ParametersDocError extends Error {
  readonly code: 'ERR_NO_MARKERS';
  constructor(code: 'ERR_NO_MARKERS', message: string) {
    super(message);
    this.name = 'ParametersDocError';
    this.code = code;
  }
}

/** A value inside a markdown table cell: pipes escaped, one line. */
function cell(text: string): string {
  return text.replace(/\s*\n\s*/g, ' ').replace(/\|/g, '\\|');
}

/** A default as code, or a word when there is nothing to show. */
function defaultCell(info: ParameterInfo): string {
  if (info.computed) return '(from the host)';
  if (info.default === '') return '(empty)';
  // A backtick inside would end the code span early; a longer fence holds it.
  const fence = info.default.includes('`') ? '``' : '`';
  return `${fence}${cell(info.default)}${fence}`;
}

/**
 * The markdown tables of every known parameter, sorted by name: those
 * Postrider acts on, the defaults that differ from Postfix 3.7's and why,
 * those whose non-default values it refuses, and Postfix's parameters it
 * accepts without effect (warned about when set).
 */
export function renderParameterTable(params: Readonly<Record<string, ParameterInfo>> = PARAMETERS): string {
  const names = Object.keys(params).sort();
  const of = (effect: ParameterInfo['effect']): string[] => names.filter((n) => params[n]!.effect === effect);
  const acting = of('effective');
  const refused = of('refused');
  const cosmetic = of('cosmetic');
  const lines: string[] = [];
  lines.push(`### Parameters Postrider acts on (${acting.length})`, '');
  lines.push('| parameter | default | kind | what it does |', '|---|---|---|---|');
  for (const n of acting) {
    const info = params[n]!;
    lines.push(`| \`${n}\` | ${defaultCell(info)} | ${info.kind} | ${cell(info.summary)} |`);
  }
  const differing = names.filter((n) => params[n]!.differs);
  lines.push('', `### Defaults that differ from Postfix 3.7 (${differing.length})`, '');
  lines.push(
    'Every other parameter both know has Postfix 3.7\'s default (as it applies at `compatibility_level = 3.6`); a test compares them with a snapshot of a real Postfix 3.7.',
    '',
  );
  lines.push('| parameter | Postrider default | Postfix 3.7 default | why |', '|---|---|---|---|');
  for (const n of differing) {
    const info = params[n]!;
    lines.push(`| \`${n}\` | ${defaultCell(info)} | ${cell(info.differs!.postfix)} | ${cell(info.differs!.why)} |`);
  }
  lines.push('', `### Postfix parameters refused unless left at their default (${refused.length})`, '');
  lines.push(
    'Postrider does not implement these, and another value would change what happens to mail: `postrider check` and `start` stop with an error naming the parameter.',
    '',
  );
  lines.push('| parameter | Postfix default | what it does in Postfix | why it is refused |', '|---|---|---|---|');
  for (const n of refused) {
    const info = params[n]!;
    lines.push(`| \`${n}\` | ${defaultCell(info)} | ${cell(info.summary)} | ${cell(info.why ?? '')} |`);
  }
  lines.push('', `### Postfix parameters accepted without effect (${cosmetic.length})`, '');
  lines.push(
    'These load so that a Postfix main.cf works unchanged; nothing happens differently to mail. A value other than the default draws a warning naming the parameter.',
    '',
  );
  lines.push('| parameter | Postfix default | what it does in Postfix | in Postrider |', '|---|---|---|---|');
  for (const n of cosmetic) {
    const info = params[n]!;
    lines.push(`| \`${n}\` | ${defaultCell(info)} | ${cell(info.summary)} | ${cell(info.why ?? '')} |`);
  }
  return lines.join('\n') + '\n';
}

function markerSpan(readme: string): { start: number; end: number } {
  const b = readme.indexOf(BEGIN_MARKER);
  const e = b < 0 ? -1 : readme.indexOf(END_MARKER, b);
  if (b < 0 || e < 0) {
    throw new ParametersDocError('ERR_NO_MARKERS', `README has no "${BEGIN_MARKER}" ... "${END_MARKER}" section`);
  }
  return { start: b + BEGIN_MARKER.length, end: e };
}

/** The text between the markers (without them); throws ERR_NO_MARKERS when they are missing. */
export function readmeParameterSection(readme: string): string {
  const { start, end } = markerSpan(readme);
  return readme.slice(start, end).replace(/^\n/, '');
}

/** The README with the text between the markers replaced by `table`; throws ERR_NO_MARKERS. */
export function replaceParameterSection(readme: string, table: string = renderParameterTable()): string {
  const { start, end } = markerSpan(readme);
  return readme.slice(0, start) + '\n' + table + readme.slice(end);
}

/** The program: print, --write or --check. Returns the exit status. */
export function main(args: string[]): number {
  const [mode, path = defaultReadmePath()] = args;
  try {
    if (mode === undefined) {
      process.stdout.write(renderParameterTable());
      return 0;
    }
    if (mode !== '--write' && mode !== '--check') {
      process.stderr.write('usage: parameters-doc [--write|--check] [README.md]\n');
      return 1;
    }
    const readme = readFileSync(path, 'utf8');
    const fresh = replaceParameterSection(readme);
    if (mode === '--check') {
      if (fresh === readme) return 0;
      process.stderr.write(`parameters-doc: ${path}: the parameter table is out of date; run node dist/src/config/parameters-doc.js --write\n`);
      return 1;
    }
    if (fresh !== readme) writeFileSync(path, fresh);
    return 0;
  } catch (err) {
    process.stderr.write(`parameters-doc: ${path}: ${String((err as Error).message ?? err).split('\n')[0]}\n`);
    return 1;
  }
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
