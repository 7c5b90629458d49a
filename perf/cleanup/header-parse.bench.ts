/**
 * header-parse bench: tinybench micro-benchmark of cleanup's header parsing
 * alone, the part of the hot path that every message pays for: the bare-LF
 * scan (normalizeLineEnds), the split of the header section into fields and
 * body (splitMessage), and the unfolding of every field to one line
 * (unfoldHeader, as header_checks sees them); the bare-LF scan is also timed
 * alone. Three messages: a typical 1 KiB one with 12 headers, one with 40
 * headers among which folded Received lines, and a 64 KiB one with 12
 * headers. Prints tinybench's table, then the ops/s of each case. A message
 * that does not split into the expected number of fields stops the run with
 * an error.
 * Run: node <build>/perf/cleanup/header-parse.bench.js  (BENCH_TIME_MS to change the time per case)
 */
import { Bench } from 'tinybench';
import { normalizeLineEnds, splitMessage, unfoldHeader } from '../../src/cleanup/cleanup-content.js';

/** Postfix's default header_size_limit. */
const HEADER_SIZE_LIMIT = 102400;

const TYPICAL_HEADERS = [
  'Received: from mail.sender.example (mail.sender.example [192.0.2.10])\r\n\tby mx.example.net (Postfix) with ESMTPS id 4ZxYqT1B9Kz1\r\n\tfor <bob@rcpt.example>; Sat, 28 Nov 2026 20:31:07 +0000 (UTC)',
  'Return-Path: <alice@sender.example>',
  'From: Alice Example <alice@sender.example>',
  'To: Bob Example <bob@rcpt.example>',
  'Subject: Quarterly figures and the meeting on Thursday',
  'Date: Sat, 28 Nov 2026 20:31:07 +0000',
  'Message-ID: <20261128203107.4ZxYqT1B9Kz1@sender.example>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=utf-8; format=flowed',
  'Content-Transfer-Encoding: 8bit',
  'User-Agent: Bench Mailer 1.0',
  'Reply-To: Alice Example <alice@sender.example>',
];

/** Eight folded Received lines, a folded DKIM signature, list and vendor headers: a mailing-list message after a few hops. */
function manyHeaders(): string[] {
  const received = Array.from(
    { length: 8 },
    (_, i) =>
      `Received: from relay${i}.hop.example (relay${i}.hop.example [198.51.100.${10 + i}])\r\n` +
      `\tby relay${i + 1}.hop.example (Postfix) with ESMTPS id 4ZxYqT1B${i}Kz\r\n` +
      `\t(version=TLS1_3 cipher=TLS_AES_256_GCM_SHA384 bits=256)\r\n` +
      `\tfor <list@lists.example>; Sat, 28 Nov 2026 20:3${i}:07 +0000 (UTC)`,
  );
  const dkim =
    'DKIM-Signature: v=1; a=rsa-sha256; c=relaxed/relaxed; d=sender.example; s=2026;\r\n' +
    '\th=from:to:subject:date:message-id:mime-version:content-type;\r\n' +
    '\tbh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=;\r\n' +
    '\tb=dzdVyOfAKCdLXdJOc9G2q8LoXSlEniSbav+yuU4zGeeruD00lszZVoG4ZHRNiYzR';
  const rest = [
    'Authentication-Results: mx.example.net; dkim=pass header.d=sender.example; spf=pass smtp.mailfrom=sender.example',
    'ARC-Seal: i=1; a=rsa-sha256; t=1795897867; cv=none; d=lists.example; s=arc',
    'ARC-Message-Signature: i=1; a=rsa-sha256; c=relaxed/relaxed; d=lists.example; s=arc;\r\n\th=from:to:subject; bh=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=',
    'ARC-Authentication-Results: i=1; lists.example; dkim=pass',
    'Received-SPF: pass (lists.example: domain of sender.example designates 192.0.2.10 as permitted sender)',
    'X-Original-To: list@lists.example',
    'Delivered-To: list@lists.example',
    'List-Id: Benchmark discussion <bench.lists.example>',
    'List-Unsubscribe: <mailto:bench-leave@lists.example>, <https://lists.example/leave/bench>',
    'List-Unsubscribe-Post: List-Unsubscribe=One-Click',
    'List-Archive: <https://lists.example/archive/bench>',
    'List-Post: <mailto:bench@lists.example>',
    'List-Help: <mailto:bench-request@lists.example?subject=help>',
    'List-Subscribe: <mailto:bench-join@lists.example>',
    'Precedence: list',
    'Sender: bench-bounces@lists.example',
    'Errors-To: bench-bounces@lists.example',
    'X-Spam-Status: No, score=-2.1 required=5.0 tests=BAYES_00,DKIM_SIGNED,DKIM_VALID',
    'X-Spam-Score: -2.1',
    'X-Mailman-Version: 2.1.39',
  ];
  return [...received, dkim, ...rest, ...TYPICAL_HEADERS.slice(1)];
}

/** The headers, an empty line, and 78-byte body lines up to at least `size` bytes in all. */
function message(headers: string[], size: number): Buffer {
  const head = headers.join('\r\n') + '\r\n\r\n';
  const line = 'x'.repeat(76) + '\r\n';
  const lines = Math.max(1, Math.ceil((size - head.length) / line.length));
  return Buffer.from(head + line.repeat(lines));
}

interface Case {
  name: string;
  content: Buffer;
  fields: number;
}

const cases: Case[] = [
  { name: '1 KiB, 12 headers', content: message(TYPICAL_HEADERS, 1024), fields: 12 },
  { name: '40 headers, folded Received', content: message(manyHeaders(), 4096), fields: 40 },
  { name: '64 KiB, 12 headers', content: message(TYPICAL_HEADERS, 64 * 1024), fields: 12 },
];

// Results go here so that the work cannot be optimized away.
let sink = 0;

function split(content: Buffer): number {
  const buf = normalizeLineEnds(content);
  const s = splitMessage(buf, HEADER_SIZE_LIMIT);
  return s.headers.length + s.bodyStart;
}

function splitAndUnfold(content: Buffer): number {
  const buf = normalizeLineEnds(content);
  const s = splitMessage(buf, HEADER_SIZE_LIMIT);
  let n = s.bodyStart;
  for (const h of s.headers) n += unfoldHeader(buf, h).length;
  return n;
}

for (const c of cases) {
  const s = splitMessage(normalizeLineEnds(c.content), HEADER_SIZE_LIMIT);
  if (s.headers.length !== c.fields) throw new Error(`${c.name}: ${s.headers.length} header fields, expected ${c.fields}`);
  const folded = s.headers.filter((h) => unfoldHeader(c.content, h).includes('\n')).length;
  if (folded !== 0) throw new Error(`${c.name}: ${folded} headers still folded after unfolding`);
}

const bench = new Bench({ time: Number(process.env.BENCH_TIME_MS ?? 1000) });
for (const c of cases) {
  // The bare-LF scan alone reads the whole message, body included: it shows what of "split" the body size costs.
  bench.add(`bare-LF scan only, ${c.name} (${c.content.length} B)`, () => {
    sink += normalizeLineEnds(c.content).length;
  });
  bench.add(`split, ${c.name} (${c.content.length} B)`, () => {
    sink += split(c.content);
  });
  bench.add(`split + unfold, ${c.name} (${c.content.length} B)`, () => {
    sink += splitAndUnfold(c.content);
  });
}
await bench.run();
console.table(bench.table());
for (const t of bench.tasks) {
  const r = t.result;
  // ops/s from the mean time per operation (total time / runs).
  const ops = 'period' in r && r.period > 0 ? Math.round(1000 / r.period) : 0;
  console.log(`${t.name}: ${ops.toLocaleString('en-US')} ops/s`);
}
if (sink === 0) throw new Error('nothing was parsed');
