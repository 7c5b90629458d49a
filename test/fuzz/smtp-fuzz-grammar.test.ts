/**
 * smtp-fuzz-grammar: a case is a pure function of its seed, every message
 * carries its token, and over a few hundred seeds the grammar reaches every
 * command, parameter and hazard the fuzzer promises.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { caseSeed } from '../../perf/fuzz/fuzz-prng.js';
import { caseFromJson, caseToJson, lineCount, type FuzzCase } from '../../perf/fuzz/smtp-fuzz-case.js';
import { FUZZ_TOKEN_HEADER, generateCase, type GrammarOptions } from '../../perf/fuzz/smtp-fuzz-grammar.js';

const OPTS: GrammarOptions = { recipientLimit: 20, messageSizeLimit: 262_144, maxSlowMs: 1000, large: false, authUser: 'u@x.test', authSecret: 's' };
const cases: FuzzCase[] = Array.from({ length: 600 }, (_, i) => generateCase(caseSeed(0xabc, i), OPTS));
const all = Buffer.concat(cases.flatMap((c) => c.steps.map((s) => s.bytes))).toString('latin1');

test('the same seed gives the same case, byte for byte', () => {
  const a = generateCase(12345, OPTS);
  const b = generateCase(12345, OPTS);
  assert.deepEqual(caseToJson(a), caseToJson(b));
  assert.notDeepEqual(caseToJson(a), caseToJson(generateCase(12346, OPTS)));
});

test('a case survives the JSON round trip of replay files', () => {
  for (const c of cases.slice(0, 50)) assert.deepEqual(caseFromJson(JSON.parse(JSON.stringify(caseToJson(c)))), c);
});

test('every command of the grammar comes up', () => {
  for (const verb of ['EHLO ', 'HELO ', 'MAIL FROM:', 'RCPT TO:', 'DATA', 'BDAT ', 'RSET', 'NOOP', 'VRFY', 'STARTTLS', 'AUTH PLAIN', 'AUTH LOGIN', 'QUIT', 'GET / HTTP']) {
    assert.ok(all.includes(verb), verb);
  }
});

test('every ESMTP parameter comes up, valid and broken', () => {
  for (const p of ['SIZE=', 'BODY=8BITMIME', 'BODY=7BIT', 'BODY=junk', ' SMTPUTF8', 'RET=FULL', 'RET=HDRS', 'ENVID=', 'NOTIFY=SUCCESS,FAILURE', 'NOTIFY=NEVER,SUCCESS', 'ORCPT=rfc822;', 'ORCPT=garbage']) {
    assert.ok(all.includes(p), p);
  }
});

test('the hazards come up: NUL and 8-bit bytes, bare LF and CR, long lines, dot-stuffing, fake terminators', () => {
  assert.ok(all.includes('\x00'), 'NUL');
  assert.ok(/[\x80-\xff]/.test(all), '8-bit');
  assert.ok(/[^\r]\n/.test(all), 'bare LF');
  assert.ok(/\r[^\n]/.test(all), 'bare CR');
  assert.ok(all.includes('\r\n..\r\n'), 'a stuffed dot');
  assert.ok(all.includes('x\n.\nmore'), 'a fake terminator');
  const lineLengths = all.split('\n').map((l) => l.length);
  for (const n of [513, 1001, 65_000]) assert.ok(lineLengths.some((l) => l > n), `a line over ${n}`);
});

test('every transport, ending and step kind comes up, and abrupt ends are last', () => {
  assert.deepEqual(new Set(cases.map((c) => c.transport)), new Set(['lockstep', 'pipelined', 'blast']));
  assert.deepEqual(new Set(cases.map((c) => c.ending)), new Set(['quit', 'close', 'reset', 'half-close', 'idle']));
  assert.deepEqual(new Set(cases.flatMap((c) => c.steps.map((s) => s.kind))), new Set(['line', 'data', 'bdat', 'starttls', 'slow', 'partial', 'pause']));
  assert.ok(cases.some((c) => c.early), 'a client that talks before the greeting');
  assert.ok(cases.some((c) => c.listener === 'auth') && cases.some((c) => c.listener === 'relay'));
  for (const c of cases) {
    const at = c.steps.findIndex((s) => s.kind === 'partial');
    if (at >= 0) assert.equal(at, c.steps.length - 1, 'nothing after an abrupt end');
    if (at >= 0) assert.notEqual(c.ending, 'quit');
  }
});

test('every message carries its token, and content ends with the terminator', () => {
  let messages = 0;
  for (const c of cases) {
    for (const s of c.steps) {
      if (s.kind !== 'data') continue;
      messages++;
      const text = s.bytes.toString('latin1');
      assert.ok(s.token && text.includes(`${FUZZ_TOKEN_HEADER}: ${s.token}`) || !text.includes(FUZZ_TOKEN_HEADER), 'token header');
      assert.ok(text.endsWith('\r\n.\r\n') || text === '.\r\n', JSON.stringify(text.slice(-10)));
    }
  }
  assert.ok(messages > 200);
});

test('a step expects one reply per line end, and the 8-bit oracle marks only lines sent as written', () => {
  for (const c of cases) {
    for (const s of c.steps) {
      if (s.kind === 'line' && s.replies !== 'unknown') assert.equal(s.replies, lineCount(s.bytes));
      if (s.eightBitAddress) assert.ok(/[\x80-\xff]/.test(s.bytes.toString('latin1')) && s.bytes.subarray(-1)[0] === 0x0a);
    }
  }
  assert.ok(cases.some((c) => c.steps.some((s) => s.eightBitAddress && !s.smtputf8)));
});
