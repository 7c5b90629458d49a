/**
 * regexp: and pcre: tables cannot stall the thread that looks them up:
 * Postfix's classic backtracking traps answer at once on RE2; a table whose
 * pattern needs the backtracking engine bounds each lookup and fails it
 * (TableLookupError naming file and line) when the budget runs out.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openTable, openTableList, TableLookupError } from '../../src/config/lookup-table.js';
import { LOOKUP_BUDGET_MS, withMatchBudget } from '../../src/config/table-budget.js';

const HOSTILE = 'a'.repeat(40) + '!';

function withDir(files: Record<string, string>, fn: (dir: string) => void): void {
  const dir = mkdtempSync(join(tmpdir(), 'postrider-regexp-'));
  try {
    for (const [name, text] of Object.entries(files)) writeFileSync(join(dir, name), text);
    fn(dir);
  } finally {
    rmSync(dir, { recursive: true });
  }
}

test('the header_checks reproduction /^Subject: (a+)+$/ answers "no match" at once for the hostile subject', () => {
  withDir({ hc: '/^Subject: (a+)+$/ REJECT\n' }, (dir) => {
    const t = openTable('regexp:hc', dir);
    assert.equal(t.backtracking, false);
    assert.equal(t.get(`Subject: ${HOSTILE}`), undefined);
    assert.equal(t.get('Subject: aaaa'), 'REJECT');
  });
});

test('results keep $n substitution on the linear engine, negation and if blocks included', () => {
  withDir({
    r: ['if !/^admin/', '/^(.+)@(example)\\.com$/  $2-$1 costs $$5', 'endif', '!/@/  local'].join('\n'),
  }, (dir) => {
    const t = openTable('regexp:r', dir);
    assert.equal(t.get('joe@example.com'), 'example-joe costs $5');
    assert.equal(t.get('admin@example.com'), undefined);
    assert.equal(t.get('postmaster'), 'local');
  });
});

test('a pcre table with a backreference answers ordinary keys, and fails a hostile lookup within its budget', () => {
  withDir({ p: '# twins\n/^(\\w+)-\\1$/  twin $1\n/^(a+)+\\1$/  REJECT\n' }, (dir) => {
    const file = join(dir, 'p');
    const t = openTable(`pcre:${file}`, dir);
    assert.equal(t.backtracking, true);
    assert.equal(t.get('abc-abc'), 'twin abc');
    assert.equal(t.get('abc-abd'), undefined);
    assert.throws(() => t.get(HOSTILE), (err: unknown) => {
      assert.ok(err instanceof TableLookupError);
      assert.equal(err.message, `pcre map ${file}, line 3: match time limit of ${LOOKUP_BUDGET_MS} ms exceeded`);
      return true;
    });
    assert.equal(t.get('xyz-xyz'), 'twin xyz', 'the table answers again after a failed lookup');
  });
});

test('lookups inside a caller\'s budget scope share that budget', () => {
  withDir({ p: '/^(a+)+\\1$/  REJECT\n' }, (dir) => {
    const t = openTable('pcre:p', dir);
    assert.throws(() => withMatchBudget(30, () => t.get(HOSTILE)), { message: /match time limit of 30 ms exceeded/ });
  });
});

test('lists and proxy: say whether some table needs the backtracking engine', () => {
  withDir({ lin: '/a/ x\n', back: '/(a)\\1/ y\n' }, (dir) => {
    assert.equal(openTableList('regexp:lin, hash:lin', dir).backtracking, false);
    assert.equal(openTableList('regexp:lin, pcre:back', dir).backtracking, true);
    assert.equal(openTable('proxy:pcre:back', dir).backtracking, true);
  });
});
