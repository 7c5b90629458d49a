/**
 * The protocols are closed and typed on both sides: protocol-mismatch.ts
 * holds calls and handlers that do not match, each marked
 * `// @ts-expect-error TSnnnn: why`. The build already fails if one of them
 * compiles; here the file is type-checked again with the directives
 * removed, and each marked line must fail with exactly the error it names,
 * so an unrelated error (a typo, a missing import) cannot stand in for the
 * mismatch. The same check of the correct actors (the build) shows the
 * errors come from the mismatches alone.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../../..');
const FIXTURE = join(ROOT, 'test/protocol/protocol-mismatch.ts');
const DIRECTIVE = /^\s*\/\/ @ts-expect-error (TS\d+): /;

/** The line (1-based) each directive covers, and the error code it names. */
function expectations(text: string): Map<number, string> {
  const out = new Map<number, string>();
  text.split('\n').forEach((line, i) => {
    const m = DIRECTIVE.exec(line);
    if (m) out.set(i + 2, m[1]);
  });
  return out;
}

/** Type-checks the fixture with its directives blanked out; returns "line code" per error in the fixture. */
function compileWithoutDirectives(text: string): { inFixture: string[]; elsewhere: string[] } {
  const config = ts.readConfigFile(join(ROOT, 'tsconfig.json'), (p) => ts.sys.readFile(p));
  const parsed = ts.parseJsonConfigFileContent(config.config, ts.sys, ROOT);
  const stripped = text.split('\n').map((l) => (DIRECTIVE.test(l) ? '' : l)).join('\n');
  const host = ts.createCompilerHost({ ...parsed.options, noEmit: true });
  const read = host.readFile.bind(host);
  host.readFile = (p) => (p === FIXTURE ? stripped : read(p));
  const program = ts.createProgram({ rootNames: [FIXTURE], options: { ...parsed.options, noEmit: true }, host });
  const inFixture: string[] = [];
  const elsewhere: string[] = [];
  for (const d of ts.getPreEmitDiagnostics(program)) {
    const where = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0;
    const item = `${where} TS${d.code}`;
    if (d.file?.fileName === FIXTURE) inFixture.push(item);
    else elsewhere.push(`${d.file?.fileName ?? '?'}:${item}: ${ts.flattenDiagnosticMessageText(d.messageText, ' ')}`);
  }
  return { inFixture, elsewhere };
}

test('a call or a handler that does not match its protocol fails to compile, with the error each mismatch names', () => {
  const text = readFileSync(FIXTURE, 'utf8');
  const want = expectations(text);
  assert.ok(want.size >= 9, `the fixture marks its mismatches (${want.size} found)`);
  const { inFixture, elsewhere } = compileWithoutDirectives(text);
  assert.deepEqual(elsewhere, [], 'no error outside the fixture');
  const got = [...new Set(inFixture)].sort();
  const expected = [...want].map(([line, code]) => `${line} ${code}`).sort();
  assert.deepEqual(got, expected);
});
