/** Tests of main.cf parsing and Postfix parameter expansion. */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseMainCf } from '../../src/config/main-cf.js';
import { Expander, referencedNames } from '../../src/config/main-cf-expand.js';

function expandAll(raw: Record<string, string>): { v: (n: string) => string; problems: string[] } {
  const problems: string[] = [];
  const e = new Expander(raw, (name, msg) => problems.push(`${name}: ${msg}`));
  return { v: (n) => e.value(n), problems };
}

test('parses name = value lines, comments, blank lines and continuation lines', () => {
  const text = [
    '# a comment',
    '',
    'myhostname = mail.example.com',
    'mydestination = $myhostname,',
    '    localhost.$mydomain,',
    '  # an indented comment does not end the continuation',
    '\tlocalhost',
    'relayhost =',
    'foo=bar # not a comment',
    'myhostname = second.example.com',
  ].join('\n');
  const r = parseMainCf(text, '/etc/main.cf');
  assert.deepEqual(r.problems, []);
  assert.equal(r.raw.mydestination, '$myhostname, localhost.$mydomain, localhost');
  assert.equal(r.raw.relayhost, '');
  assert.equal(r.raw.foo, 'bar # not a comment');
  assert.equal(r.raw.myhostname, 'second.example.com', 'the last setting wins');
  assert.equal(r.lines.myhostname, 10);
  assert.equal(r.lines.mydestination, 4);
});

test('a line without "=" is an error naming file and line', () => {
  const r = parseMainCf('a = 1\nthis line has no equals\nb = 2\n', '/x/main.cf');
  assert.equal(r.problems.length, 1);
  assert.equal(r.problems[0].severity, 'error');
  assert.equal(r.problems[0].file, '/x/main.cf');
  assert.equal(r.problems[0].line, 2);
  assert.match(r.problems[0].message, /missing '=' after attribute name/);
  assert.equal(r.raw.b, '2', 'parsing goes on after a bad line');
});

test('a bad parameter name and an orphan continuation line are errors', () => {
  const r = parseMainCf('  leading = space\nbad name = x\n= nothing\n', 'main.cf');
  assert.deepEqual(r.problems.map((p) => p.line), [1, 2, 3]);
  assert.ok(r.problems.every((p) => p.severity === 'error'));
  assert.match(r.problems[1].message, /bad parameter name/);
});

test('hostile bytes in a bad line stay on one line of the message', () => {
  const r = parseMainCf('x\u0000\u001b[31m\r\n', 'main.cf');
  assert.equal(r.problems.length, 1);
  assert.doesNotMatch(r.problems[0].message, /[\u0000-\u001f]/);
});

test('expands $name, ${name} and $(name) recursively', () => {
  const { v, problems } = expandAll({ a: 'A', b: '$a-${a}-$(a)', c: '[$b]', d: '$undefined_name.x' });
  assert.equal(v('b'), 'A-A-A');
  assert.equal(v('c'), '[A-A-A]');
  assert.equal(v('d'), '.x', 'an undefined name expands to nothing');
  assert.deepEqual(problems, []);
});

test('$$ is a literal dollar sign', () => {
  const { v } = expandAll({ a: 'A', b: 'cost $$5 and $$a and $a' });
  assert.equal(v('b'), 'cost $5 and $a and A');
});

test('${name?value} and ${name:value}, legacy and braced forms', () => {
  const { v } = expandAll({
    set: 'yes',
    empty: '',
    a: '${set?on}|${empty?on}|${unset?on}',
    b: '${set:off}|${empty:off}|${unset:off}',
    c: '${set?{on, with comma}}|${empty:{off $set}}',
  });
  assert.equal(v('a'), 'on||');
  assert.equal(v('b'), '|off|off');
  assert.equal(v('c'), 'on, with comma|off yes');
});

test('${name?{value1}:{value2}} chooses by emptiness, as in Postfix defaults', () => {
  const { v } = expandAll({
    stress: '',
    busy: 'yes',
    smtpd_timeout: '${stress?{10}:{300}}s',
    t2: '${busy?{10}:{300}}s',
    nested: '${busy?{${stress?{x}:{y$busy}}}:{z}}',
  });
  assert.equal(v('smtpd_timeout'), '300s');
  assert.equal(v('t2'), '10s');
  assert.equal(v('nested'), 'yyes');
});

test('relational ${{a} == {b} ? {x} : {y}} and numeric < >', () => {
  const { v, problems } = expandAll({
    compatibility_level: '3.6',
    lvl: '2',
    a: '${{$compatibility_level} == {3.6} ? {same} : {different}}',
    b: '${{$lvl} < {3} ? {old} : {new}}',
    c: '${{$lvl} >= {3} ? {new}}',
    d: '${{$lvl} != {2} ? {x} : {y}}',
  });
  assert.equal(v('a'), 'same');
  assert.equal(v('b'), 'old');
  assert.equal(v('c'), '');
  assert.equal(v('d'), 'y');
  assert.deepEqual(problems, []);
});

test('a reference loop is reported, expands to empty and does not hang', () => {
  const { v, problems } = expandAll({ a: 'x$b', b: 'y$c', c: 'z$a', self: 'q$self', ok: 'fine' });
  assert.equal(typeof v('a'), 'string');
  assert.equal(v('self'), 'q');
  assert.equal(v('ok'), 'fine');
  assert.ok(problems.some((p) => /recursive parameter expansion: a -> b -> c -> a/.test(p)), problems.join('; '));
  assert.ok(problems.some((p) => /self -> self/.test(p)));
});

test('syntax errors are reported, not thrown', () => {
  const { v, problems } = expandAll({ a: 'x${unclosed', b: 'cost $ 5', c: '${a?{x}:{y}:{z}}' });
  assert.equal(v('a'), 'x${unclosed');
  assert.equal(v('b'), 'cost $ 5');
  assert.equal(v('c'), '');
  assert.equal(problems.length, 3);
});

test('referencedNames finds every reference form, not $$', () => {
  assert.deepEqual(referencedNames('$a ${b} $(c) ${d?x} ${e:{y}} $$f'), ['a', 'b', 'c', 'd', 'e']);
});
