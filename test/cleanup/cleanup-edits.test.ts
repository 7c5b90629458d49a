/**
 * cleanup-edits: assembling the message from header and body edits, and
 * the headers as they will be written.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { assemble, isEmpty, noEdits, outputHeaders } from '../../src/cleanup/cleanup-edits.js';
import { splitMessage } from '../../src/cleanup/cleanup-content.js';

const MESSAGE = 'Date: d\r\nSubject: s\r\n\tfolded\r\nMessage-ID: <a@b>\r\n\r\none\r\ntwo\r\nthree\r\n';

function build(edits: ReturnType<typeof noEdits> | undefined) {
  const buf = Buffer.from(MESSAGE);
  const split = splitMessage(buf, 102400);
  const out = assemble(buf, split.headers, split.headerEnd, split.bodyStart, Buffer.from('Top: t\r\n'), edits);
  return { text: out.bytes.toString(), headerLength: out.headerLength, buf, split };
}

test('without edits the message is the top headers and the original bytes', () => {
  const { text, headerLength } = build(undefined);
  assert.equal(text, 'Top: t\r\n' + MESSAGE);
  assert.equal(headerLength, text.indexOf('\r\n\r\n') + 4);
  assert.equal(isEmpty(noEdits()), true);
});

test('header prepends keep their order, replace and ignore apply by index, body edits by range', () => {
  const edits = noEdits();
  edits.prepend.set(1, ['X-A: 1', 'X-B: 2']);
  edits.replace.set(1, 'Subject: new');
  edits.ignored.add(0);
  const bodyStart = MESSAGE.indexOf('one');
  const two = MESSAGE.indexOf('two');
  edits.body.push({ start: two, end: two + 5, text: 'TWO', replace: true });
  edits.body.push({ start: bodyStart, end: bodyStart + 5, text: 'zero', replace: false });
  // Overlaps the replaced line: skipped rather than corrupting the body.
  edits.body.push({ start: two + 1, end: two + 5, text: 'bad', replace: true });
  assert.equal(isEmpty(edits), false);
  const { text, headerLength, buf, split } = build(edits);
  assert.equal(text, 'Top: t\r\nX-A: 1\r\nX-B: 2\r\nSubject: new\r\nMessage-ID: <a@b>\r\n\r\nzero\r\none\r\nTWO\r\nthree\r\n');
  assert.equal(headerLength, text.indexOf('\r\n\r\n') + 4);
  assert.deepEqual(outputHeaders(buf, split.headers, edits), [
    { name: 'x-a', value: '1' },
    { name: 'x-b', value: '2' },
    { name: 'subject', value: 'new' },
    { name: 'message-id', value: '<a@b>' },
  ]);
});
