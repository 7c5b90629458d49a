/**
 * role-catalogue-doc: the README's role table, generated from the role
 * catalogue so the documentation cannot drift from what the supervisor
 * starts. The generated part sits between `<!-- roles:begin -->` and
 * `<!-- roles:end -->`.
 *
 * Run as a program: `node dist/src/protocol/role-catalogue-doc.js` prints
 * the table; `--write [README]` rewrites the marked part of README.md
 * (default: the project's). A README without both markers is a one-line
 * error, exit 1.
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ROLE_NAMES, roleEntry } from './role-catalogue.js';
import { defaultReadmePath } from '../util/readme-path.js';

export const ROLES_BEGIN = '<!-- roles:begin -->';
export const ROLES_END = '<!-- roles:end -->';

/** The markdown table of every role, in catalogue order. */
export function renderRoleTable(): string {
  const lines = ['| role | kind | Postfix | serves | calls | job |', '|---|---|---|---|---|---|'];
  for (const role of ROLE_NAMES) {
    const e = roleEntry(role);
    const calls = [...e.calls, ...(e.callsTransports ? ['every transport'] : []), ...(e.notifies ?? []).map((r) => `${r} (casts)`)];
    const kind = e.kind === 'inline' ? `inline in ${e.inlineIn?.join(', ')}` : e.kind === 'delivery' ? 'delivery agent' : 'daemon';
    const serves = e.serves ? `\`${e.serves}\`` : '-';
    lines.push(`| ${role} | ${kind} | ${e.postfix} | ${serves} | ${calls.join(', ') || '-'} | ${e.job.replace(/\|/g, '\\|')} |`);
  }
  return lines.join('\n') + '\n';
}

/** The text between the role markers, or undefined when they are missing. */
export function readmeRoleSection(readme: string): string | undefined {
  const b = readme.indexOf(ROLES_BEGIN);
  const e = b < 0 ? -1 : readme.indexOf(ROLES_END, b);
  return b < 0 || e < 0 ? undefined : readme.slice(b + ROLES_BEGIN.length, e).replace(/^\n/, '');
}

/** The program: print, or --write the README's section. Returns the exit status. */
export function main(args: string[]): number {
  const [mode, path = defaultReadmePath()] = args;
  if (mode === undefined) {
    process.stdout.write(renderRoleTable());
    return 0;
  }
  if (mode !== '--write') {
    process.stderr.write('usage: role-catalogue-doc [--write] [README.md]\n');
    return 1;
  }
  const readme = readFileSync(path, 'utf8');
  const b = readme.indexOf(ROLES_BEGIN);
  const e = b < 0 ? -1 : readme.indexOf(ROLES_END, b);
  if (b < 0 || e < 0) {
    process.stderr.write(`role-catalogue-doc: ${path}: no "${ROLES_BEGIN}" ... "${ROLES_END}" section\n`);
    return 1;
  }
  const fresh = readme.slice(0, b + ROLES_BEGIN.length) + '\n' + renderRoleTable() + readme.slice(e);
  if (fresh !== readme) writeFileSync(path, fresh);
  return 0;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exitCode = main(process.argv.slice(2));
}
