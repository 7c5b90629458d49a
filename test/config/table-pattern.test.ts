/**
 * Table patterns run on RE2 (linear time) whenever RE2 can express them,
 * and only backreferences and lookahead fall back to the backtracking
 * engine, marked as needing a time budget. Flags keep Postfix's meaning.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { compilePattern, PatternSet } from '../../src/config/table-pattern.js';

const HOSTILE = 'a'.repeat(40) + '!';

test('a nested quantifier runs on RE2: no match for the hostile key, in linear time', () => {
  for (const type of ['regexp', 'pcre']) {
    const p = compilePattern('^(a+)+$', '', type);
    assert.equal(p.backtracking, false);
    // On a backtracking engine this key takes 2^40 steps; RE2 answers at once.
    assert.equal(p.test(HOSTILE), false);
    assert.equal(p.test('aaaa'), true);
    assert.equal(p.exec('aaaa')?.[1], 'aaaa');
  }
});

test('backreferences and lookahead fall back to the backtracking engine, marked as such', () => {
  const twin = compilePattern('^(\\w+)-\\1$', '', 'pcre');
  assert.equal(twin.backtracking, true);
  assert.equal(twin.test('abc-ABC'), true, 'case-insensitive by default');
  assert.equal(twin.test('abc-abd'), false);
  assert.equal(twin.groups, 1);
  const ahead = compilePattern('^(?!admin@)(\\w+)@example\\.com$', '', 'pcre');
  assert.equal(ahead.backtracking, true);
  assert.equal(ahead.exec('bob@example.com')?.[1], 'bob');
  assert.equal(ahead.test('admin@example.com'), false);
  assert.equal(compilePattern('(?<=@)example\\.com$', '', 'pcre').backtracking, false, 'a captureless lookbehind stays linear');
});

test('regexp: reports the leftmost-longest match as POSIX does, pcre: the leftmost-first as Perl', () => {
  assert.equal(compilePattern('(a|ab)', '', 'regexp').exec('abc')?.[1], 'ab');
  assert.equal(compilePattern('(a|ab)', '', 'pcre').exec('abc')?.[1], 'a');
});

test('flags: i toggles case-insensitivity off, m, s, x and A as PCRE', () => {
  assert.equal(compilePattern('^abc$', 'i', 'pcre').test('ABC'), false);
  assert.equal(compilePattern('^abc$', '', 'pcre').test('ABC'), true);
  assert.equal(compilePattern('^b$', 'm', 'pcre').test('a\nb'), true);
  assert.equal(compilePattern('^b$', '', 'pcre').test('a\nb'), false);
  assert.equal(compilePattern('a.b', 's', 'pcre').test('a\nb'), true);
  assert.equal(compilePattern('a.b', '', 'pcre').test('a\nb'), false);
  assert.equal(compilePattern('^ a b c # letters\n $', 'x', 'pcre').test('abc'), true);
  assert.equal(compilePattern('b', 'A', 'pcre').test('ab'), false);
  assert.throws(() => compilePattern('a', 's', 'regexp'), /unsupported flag "s"/);
});

test('POSIX character classes work in both table types', () => {
  assert.equal(compilePattern('^[[:digit:]]+$', '', 'regexp').test('2026'), true);
  assert.equal(compilePattern('^[[:alpha:]]+$', '', 'pcre').test('ab1'), false);
});

test('a pattern neither engine accepts throws', () => {
  assert.throws(() => compilePattern('(', '', 'pcre'), SyntaxError);
});

test('a PatternSet answers for every linear pattern as its own test() does, flags included; backtracking ones are left out', () => {
  const patterns = [
    compilePattern('^abc$', 'i', 'pcre'),
    compilePattern('^abc$', '', 'pcre'),
    compilePattern('^b$', 'm', 'pcre'),
    compilePattern('a.b', 's', 'pcre'),
    compilePattern('^(x+)\\1$', '', 'pcre'),
    undefined,
    compilePattern('^(a+)+$', '', 'regexp'),
  ];
  const set = new PatternSet(patterns);
  for (const key of ['abc', 'ABC', 'a\nb', 'xx', 'aaaa', `${'a'.repeat(40)}!`]) {
    set.scan(key);
    patterns.forEach((p, i) => {
      if (!p || p.backtracking) assert.equal(set.matched(i), undefined, `pattern ${i} is not in the set`);
      else assert.equal(set.matched(i), p.test(key), `pattern ${i} on ${JSON.stringify(key)}`);
    });
  }
});
