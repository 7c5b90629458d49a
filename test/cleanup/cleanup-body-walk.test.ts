/**
 * The body walk follows multipart nesting only to mime_nesting_limit, as
 * Postfix's mime_state: deeper boundaries are body text, and when nesting
 * is reported the walk ends with the Content-Type header that went too
 * deep. A 40,000-level message is walked in time linear in its size.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { walkBody } from '../../src/cleanup/cleanup-body-walk.js';
import { splitMessage } from '../../src/cleanup/cleanup-content.js';
import { openTable } from '../../src/config/lookup-table.js';
import { nestedMimeMessage } from '../helpers/nested-mime.js';

function walk(buf: Buffer, opts: { reportNesting: boolean; nestingLimit?: number; bodySizeLimit?: number; body?: string; mime?: string }): ReturnType<typeof walkBody> {
  const dir = mkdtempSync(join(tmpdir(), 'body-walk-'));
  try {
    if (opts.body) writeFileSync(join(dir, 'body'), opts.body);
    if (opts.mime) writeFileSync(join(dir, 'mime'), opts.mime);
    const split = splitMessage(buf, 102400);
    const ct = buf.toString('latin1', 0, split.headerEnd).match(/^Content-Type: (.*)$/m)?.[1].trim() ?? '';
    return walkBody(buf, split.bodyStart, ct, {
      bodyChecks: opts.body ? openTable('regexp:body', dir) : undefined,
      mimeHeaderChecks: opts.mime ? openTable('regexp:mime', dir) : undefined,
      bodySizeLimit: opts.bodySizeLimit ?? 51200,
      nestingLimit: opts.nestingLimit ?? 100,
      reportNesting: opts.reportNesting,
    });
  } finally {
    rmSync(dir, { recursive: true });
  }
}

test('nesting within mime_nesting_limit is followed to the innermost part', () => {
  const r = walk(nestedMimeMessage(100), { reportNesting: true, body: '/^the innermost text$/ REJECT found\n', mime: '/^Content-Type: text\\/plain/ WARN leaf\n' });
  assert.equal(r.nesting, undefined);
  assert.deepEqual(r.events.map((e) => `${e.map} ${e.verb}`), ['mime_header_checks WARN', 'body_checks REJECT']);
});

test('40,000 levels with nesting reported: the walk stops at the first part past the limit, naming its Content-Type', () => {
  const r = walk(nestedMimeMessage(40_000), { reportNesting: true, mime: '/^Content-Type: text\\/plain/ REJECT leaf\n' });
  // Postfix's count: the nesting level (boundaries followed less one) may reach the limit, 102 boundaries in all.
  assert.equal(r.nesting, 'Content-Type: multipart/mixed; boundary="b102"');
  assert.deepEqual(r.events, [], 'the leaf was never reached');
});

test('40,000 levels without the report: deeper parts are body text, the walk reaches the end', () => {
  const r = walk(nestedMimeMessage(40_000), {
    reportNesting: false,
    // The part at the limit holds the rest of the message; let body_checks see all of it.
    bodySizeLimit: 10_000_000,
    body: '/^Content-Type: multipart\\/mixed; boundary="b200"$/ WARN deep header seen as body\n/^the innermost text$/ WARN leaf\n',
    mime: '/boundary="b200"/ REJECT never a part header\n',
  });
  assert.equal(r.nesting, undefined);
  assert.deepEqual(r.events.map((e) => `${e.map} ${e.verb} ${e.text}`), ['body_checks WARN deep header seen as body', 'body_checks WARN leaf']);
});
