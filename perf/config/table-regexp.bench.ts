/**
 * table-regexp bench: tinybench micro-benchmark of one lookup in a regexp:
 * table, the engine before (JavaScript RegExp, backtracking) against the
 * engine now (RE2 through re2js, linear time), on the same patterns and
 * keys; then the cost of the budgeted path that backreference rules take
 * (one node:vm time-budget scope per lookup, or one per message around many
 * lookups), and the hostile key that made the old engine stall. Prints
 * tinybench's table, then each case's mean and median time per lookup and
 * the ratios new / old. A lookup that answers differently on the two engines stops the
 * run with an error.
 * Run: node <build>/perf/config/table-regexp.bench.js  (BENCH_TIME_MS to change the time per case)
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Bench } from 'tinybench';
import { openTable } from '../../src/config/lookup-table.js';
import { withMatchBudget } from '../../src/config/table-budget.js';

/** A header_checks table of the kind sites run: anchored header names, alternations, a $1 result. */
const HEADER_RULES = [
  '/^Subject:.*\\b(viagra|cialis|casino)\\b/ REJECT spam subject',
  '/^Subject:.*=\\?(big5|gb2312|koi8-r)\\?/ REJECT charset not accepted',
  '/^Content-Type:.*name\\s*=\\s*"?.*\\.(exe|scr|pif|bat|com|vbs)"?\\s*$/ REJECT attachment type $1',
  '/^From:.*@(example\\.invalid|spam\\.test)>?$/ REJECT sender domain $1',
  '/^Received: from (localhost|127\\.0\\.0\\.1)/ IGNORE',
  '/^X-Mailer: (bulk|mass) mailer/ REJECT bulk mail',
  '/^To:.*undisclosed-recipients/ WARN undisclosed',
  '/^Message-ID:.*@(\\w+)\\.local>/ WARN local message id $1',
];

const HEADERS = [
  'Received: from mail.sender.example (mail.sender.example [192.0.2.10]) by mx.example.net (Postfix) with ESMTPS id 4ZxYqT1B9Kz1 for <bob@rcpt.example>; Sat, 28 Nov 2026 20:31:07 +0000 (UTC)',
  'From: Alice Example <alice@sender.example>',
  'To: Bob Example <bob@rcpt.example>',
  'Subject: Quarterly figures and the meeting on Thursday',
  'Date: Sat, 28 Nov 2026 20:31:07 +0000',
  'Message-ID: <20261128203107.4ZxYqT1B9Kz1@sender.example>',
  'MIME-Version: 1.0',
  'Content-Type: text/plain; charset=utf-8; format=flowed',
  'Subject: cheap VIAGRA here',
  'Content-Type: application/octet-stream; name="invoice.exe"',
];

/** The old table: JavaScript RegExps tried in order with exec, as table-regexp did before RE2. */
function oldTable(rules: string[]): (key: string) => string | undefined {
  const compiled = rules.map((line) => {
    const m = /^\/(.*)\/(\S*)\s+(.*)$/.exec(line)!;
    return { re: new RegExp(m[1], 'i'), result: m[3] };
  });
  return (key) => {
    for (const r of compiled) {
      const m = r.re.exec(key);
      if (m) return r.result.replace(/\$(\d)/g, (_a, n: string) => m[Number(n)] ?? '');
    }
    return undefined;
  };
}

const dir = mkdtempSync(join(tmpdir(), 'bench-regexp-'));
writeFileSync(join(dir, 'header_checks'), HEADER_RULES.join('\n') + '\n');
writeFileSync(join(dir, 'backref'), '/^Subject: (\\w+) \\1\\b/ REJECT doubled word\n' + HEADER_RULES.join('\n') + '\n');
writeFileSync(join(dir, 'hostile'), '/^Subject: (a+)+$/ REJECT\n');
const newTable = openTable('regexp:header_checks', dir);
const backrefTable = openTable('pcre:backref', dir);
const hostileTable = openTable('regexp:hostile', dir);
const old = oldTable(HEADER_RULES);
const oldHostile = oldTable(['/^Subject: (a+)+$/ REJECT']);
rmSync(dir, { recursive: true });

for (const h of HEADERS) {
  if (old(h) !== newTable.get(h)) throw new Error(`engines disagree on "${h}": ${old(h)} / ${newTable.get(h)}`);
}
if (backrefTable.backtracking !== true || newTable.backtracking !== false) throw new Error('unexpected engine choice');

// 22 a's take the old engine about 2^22 steps: slow enough to show, short enough to run.
const HOSTILE = `Subject: ${'a'.repeat(22)}!`;

let sink = 0;
let i = 0;
const next = (): string => HEADERS[i++ % HEADERS.length];

const bench = new Bench({ time: Number(process.env.BENCH_TIME_MS ?? 1000) });
bench
  .add('old: JS RegExp, 8 rules, one header lookup', () => {
    sink += old(next())?.length ?? 1;
  })
  .add('new: RE2 (re2js), 8 rules, one header lookup', () => {
    sink += newTable.get(next())?.length ?? 1;
  })
  .add('new: backreference table, own budget scope per lookup', () => {
    sink += backrefTable.get(next())?.length ?? 1;
  })
  .add('new: backreference table, 10 lookups in one budget scope (per lookup)', () => {
    // A generous budget: this measures the cost of the scope, not the limit.
    sink += withMatchBudget(5000, () => {
      let n = 0;
      for (const h of HEADERS) n += backrefTable.get(h)?.length ?? 1;
      return n;
    });
  })
  .add('old: JS RegExp, /^Subject: (a+)+$/, hostile 22 a', () => {
    sink += oldHostile(HOSTILE)?.length ?? 1;
  })
  .add('new: RE2, /^Subject: (a+)+$/, hostile 22 a', () => {
    sink += hostileTable.get(HOSTILE)?.length ?? 1;
  });
await bench.run();
console.table(bench.table());
for (const t of bench.tasks) {
  const r = t.result as { error?: unknown };
  if (r.error) throw new Error(`${t.name}: ${String(r.error)}`);
}

/** Mean and median time per lookup in µs (the median holds up better on a busy machine). */
const figures = (name: string): { mean: number; median: number } => {
  const r = bench.tasks.find((t) => t.name === name)!.result as { period?: number; latency?: { p50: number } };
  const scale = name.includes('10 lookups') ? 1000 / HEADERS.length : 1000;
  return { mean: (r.period ?? NaN) * scale, median: (r.latency?.p50 ?? NaN) * scale };
};
const pairs: Array<[string, string]> = [
  ['old: JS RegExp, 8 rules, one header lookup', 'new: RE2 (re2js), 8 rules, one header lookup'],
  ['old: JS RegExp, 8 rules, one header lookup', 'new: backreference table, own budget scope per lookup'],
  ['old: JS RegExp, 8 rules, one header lookup', 'new: backreference table, 10 lookups in one budget scope (per lookup)'],
  ['old: JS RegExp, /^Subject: (a+)+$/, hostile 22 a', 'new: RE2, /^Subject: (a+)+$/, hostile 22 a'],
];
for (const t of bench.tasks) {
  const f = figures(t.name);
  console.log(`${t.name}: mean ${f.mean.toFixed(2)} µs, median ${f.median.toFixed(2)} µs per lookup`);
}
for (const [a, b] of pairs) {
  const fa = figures(a);
  const fb = figures(b);
  console.log(`ratio ${b} / ${a}: ${(fb.median / fa.median).toFixed(3)} (medians), ${(fb.mean / fa.mean).toFixed(3)} (means)`);
}
if (sink === 0) throw new Error('nothing was looked up');
