/**
 * smtp_line_length_limit: long header and body lines leave the smtp client
 * broken with CRLF SPACE as Postfix's do, checked on the bytes a real sink
 * receives, and on the breaking function itself at the edges.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { SmtpAgent } from '../../../src/actors/smtp/smtp-agent.js';
import { breakLongLines, hasLongLine } from '../../../src/actors/smtp/smtp-line-limit.js';
import { prngInt } from '../../helpers/prng.js';
import { startSmtpSink } from '../../helpers/smtp-sink.js';
import { captureLog, contentReader, makeConfig, makeRequest } from './smtp-test-kit.js';

const b = (s: string): Buffer => Buffer.from(s, 'latin1');

test('breakLongLines: limit octets, then CRLF SPACE and limit - 1 octets per piece; a line of exactly limit stays', () => {
  assert.equal(breakLongLines(b('abcdefghij\r\n'), 4).toString(), 'abcd\r\n efg\r\n hij\r\n');
  assert.equal(breakLongLines(b('abcdefg\r\n'), 4).toString(), 'abcd\r\n efg\r\n');
  assert.equal(breakLongLines(b('abcd\r\nxy\r\n'), 4).toString(), 'abcd\r\nxy\r\n');
  assert.equal(breakLongLines(b('abcdef'), 4).toString(), 'abcd\r\n ef');
  const same = b('short\r\nlines\r\n');
  assert.equal(breakLongLines(same, 4 + 10), same, 'nothing to break: the same buffer');
  assert.equal(breakLongLines(b('abcdefghij\r\n'), 0).toString(), 'abcdefghij\r\n', '0 disables the limit');
});

test('a 3,000-octet header and body line reach the next hop in pieces of at most smtp_line_length_limit', async () => {
  const sink = await startSmtpSink();
  try {
    const long = 'y'.repeat(3000);
    const content = b(`From: a@example.org\r\nX-Long: ${long}\r\nSubject: long\r\n\r\n${long}\r\n.${'z'.repeat(1200)}\r\nend\r\n`);
    for (const [limit, max] of [['998', 998], ['0', 3008]] as const) {
      const { log } = captureLog();
      const agent = new SmtpAgent({ config: makeConfig({ smtp_line_length_limit: limit, smtp_connection_cache_time_limit: '0s' }), log, readContent: contentReader(content) });
      const n = sink.messages.length;
      const res = await agent.deliver(makeRequest({ nexthop: `[127.0.0.1]:${sink.port}`, location: { segment: 1, offset: 0, length: content.length } }));
      await agent.close();
      assert.equal(res.outcomes[0].state, 'delivered');
      const got = sink.messages[n].raw.toString('latin1');
      const lines = got.split('\r\n');
      assert.equal(Math.max(...lines.map((l) => l.length)), max);
      if (limit === '998') {
        assert.ok(got.startsWith(`From: a@example.org\r\nX-Long: ${long.slice(0, 990)}\r\n ${long.slice(990, 1987)}\r\n ${long.slice(1987, 2984)}\r\n ${long.slice(2984)}\r\nSubject: long\r\n\r\n`), 'the header is folded');
        assert.ok(got.includes(`\r\n\r\n${long.slice(0, 998)}\r\n ${long.slice(998, 1995)}\r\n ${long.slice(1995, 2992)}\r\n ${long.slice(2992)}\r\n`), 'the body line is broken');
        assert.ok(got.includes(`\r\n.${'z'.repeat(997)}\r\n ${'z'.repeat(203)}\r\nend\r\n`), 'a leading dot survives dot-stuffing');
        // Unfolding the header gives the value back with one space per break.
        assert.match(got, /^X-Long: y+\r\n y+\r\n y+\r\n y+\r\n/m);
      } else {
        assert.ok(got.includes(`X-Long: ${long}\r\n`));
      }
    }
  } finally {
    await sink.close();
  }
});

test('hasLongLine finds a line over the limit exactly where a look at every line does: lengths around the limit, CRLF and bare LF ends', () => {
  const rnd = prngInt(12345);
  const endsOf = ['\r\n', '\n', '\r\n'];
  for (let round = 0; round < 3000; round++) {
    const limit = 1 + rnd(12);
    const lines = Array.from({ length: rnd(8) }, () => 'z'.repeat(Math.max(0, limit - 3 + rnd(6))));
    const text = lines.map((l) => l + endsOf[rnd(3)]).join('') + (rnd(2) ? 'z'.repeat(rnd(limit + 3)) : '');
    const content = b(text);
    const want = text.split('\n').some((line) => line.replace(/\r$/, '').length > limit);
    assert.equal(hasLongLine(content, limit), want, `limit ${limit}: ${JSON.stringify(text)}`);
    if (!want) assert.equal(breakLongLines(content, limit), content);
  }
});
