/**
 * fuzz-all: `npm run fuzz` — runs every fuzzer for a number of cases or
 * minutes and prints, per fuzzer, the cases run and the failures by kind
 * (crashes, hangs, malformed replies, messages lost, ...), then each
 * distinct failure with the seed that found it and its shrunk
 * reproduction. Exits 1 when anything failed, 2 on bad arguments.
 *
 *   npm run fuzz -- --minutes 5                  a campaign with a random seed
 *   npm run fuzz -- --cases 500 --seed 0x1234    a fixed campaign
 *   npm run fuzz -- --replay 0x9e3779b9          one case again, by its seed
 *   npm run fuzz -- --replay-file F.case.json    a shrunk case written by a campaign
 *
 * Options: --profile suite|campaign (default campaign), --no-shrink,
 * --out DIR (default var/fuzz: the JSON report and the shrunk cases),
 * --fuzzer NAME,... (only these fuzzers; now: smtp).
 */
import { randomInt } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseSeed } from './fuzz-prng.js';
import { caseFromJson, type FuzzCase, type FuzzCaseJson } from './smtp-fuzz-case.js';
import { generateCase } from './smtp-fuzz-grammar.js';
import { FINDING_KINDS, grammarFor, runSmtpFuzz, type FuzzReport } from './smtp-fuzz.js';
import { runJournalFuzz } from './journal-fuzz.js';

/** What every fuzzer reports to this runner. */
interface FuzzerSummary {
  name: string;
  cases: number;
  /** Failures by kind; any non-zero makes the run fail. */
  failures: Record<string, number>;
  /** Other figures worth a line (accepted, delivered, ...). */
  figures: Record<string, number | string>;
  /** The distinct failures, printed in full. */
  details: string[];
  report: unknown;
}

interface RunArgs {
  seed: number;
  cases?: number;
  minutes?: number;
  profile: 'suite' | 'campaign';
  shrink: boolean;
  only?: FuzzCase[];
  outDir: string;
}

function fail(message: string): never {
  console.error(`fuzz: ${message}`);
  console.error('usage: npm run fuzz -- [--cases N | --minutes M] [--seed S] [--replay SEED,...] [--replay-file FILE] [--profile suite|campaign] [--no-shrink] [--out DIR]');
  process.exit(2);
}

async function smtpFuzzer(args: RunArgs): Promise<FuzzerSummary> {
  const report: FuzzReport = await runSmtpFuzz({
    seed: args.seed,
    cases: args.cases,
    minutes: args.minutes,
    profile: args.profile,
    only: args.only,
    shrink: args.shrink,
    onProgress: (line) => console.log(`  ${line}`),
  });
  const details: string[] = [];
  let n = 0;
  for (const g of report.failures) {
    n++;
    details.push(`[${g.kind}] ${g.what}  (${g.count} time${g.count === 1 ? '' : 's'}; seeds ${g.seeds.join(' ')})`);
    details.push(`    first: seed ${g.first.seed}: ${g.first.detail.slice(0, 300)}`);
    details.push(`    replay: npm run fuzz -- --replay ${g.first.seed}${args.profile === 'suite' ? ' --profile suite' : ''}`);
    const shown = g.minimal ?? (g.flaky ? undefined : g.first);
    if (g.minimal) {
      const file = join(args.outDir, `smtp-${report.seed}-${n}-${g.kind}.case.json`);
      writeFileSync(file, JSON.stringify(g.minimal.case, null, 1) + '\n');
      details.push(`    minimal (${g.minimal.steps} steps, ${g.minimal.runs} runs): npm run fuzz -- --replay-file ${file}`);
    } else if (g.flaky) {
      details.push('    not shown again on replay: timing-dependent');
    }
    if (shown) for (const line of shown.transcript.slice(0, 30)) details.push(`      ${line}`);
  }
  const failures: Record<string, number> = {};
  for (const k of FINDING_KINDS) failures[k] = report.counts[k];
  return {
    name: 'smtp',
    cases: report.cases,
    failures,
    figures: {
      seed: report.seed,
      seconds: Math.round(report.elapsedMs / 100) / 10,
      'accepted (250)': report.accepted,
      delivered: report.delivered,
      bounced: report.bounced,
      unexpected: report.unexpected,
      duplicated: report.duplicated,
      'actor restarts': report.restarts,
      'daemon exits': report.daemonExits,
    },
    details,
    report,
  };
}

/**
 * The journal fuzzer: damaged segments (bit flips, bursts, length words,
 * zeroed headers, truncations), then recovery. Replays (--replay) are the
 * SMTP fuzzer's; --minutes does not bound it, so a campaign gives it cases
 * (default 2,000).
 */
async function journalFuzzer(args: RunArgs): Promise<FuzzerSummary> {
  const r = await runJournalFuzz({ cases: args.cases ?? (args.profile === 'suite' ? 100 : 2000), seed: args.seed });
  return {
    name: 'journal',
    cases: r.cases,
    failures: { crashes: r.crashes, hangs: r.hangs, lost: r.lost, unstable: r.unstable, resurrected: r.resurrected, phantoms: r.phantoms },
    figures: { messages: r.messages, 'damaged messages': r.damagedMessages, repaired: r.repaired, quarantined: r.quarantined, 'torn tails': r.tornTails },
    details: r.failures.map((f) => JSON.stringify(f)),
    report: r,
  };
}

/** The fuzzers, run in this order (--fuzzer NAME runs one). */
const FUZZERS: Array<{ name: string; run: (args: RunArgs) => Promise<FuzzerSummary> }> = [
  { name: 'smtp', run: smtpFuzzer },
  { name: 'journal', run: journalFuzzer },
];

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        cases: { type: 'string' },
        minutes: { type: 'string' },
        seed: { type: 'string' },
        replay: { type: 'string' },
        'replay-file': { type: 'string' },
        profile: { type: 'string' },
        'no-shrink': { type: 'boolean' },
        out: { type: 'string' },
        fuzzer: { type: 'string' },
      },
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  const num = (name: string, v: string | undefined): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n <= 0) fail(`--${name} must be a positive number, not "${v}"`);
    return n;
  };
  const profile = (values.profile ?? 'campaign') as RunArgs['profile'];
  if (profile !== 'suite' && profile !== 'campaign') fail(`--profile must be suite or campaign, not "${values.profile}"`);
  const seed = values.seed !== undefined ? parseSeed(values.seed) : randomInt(0, 0xffffffff);
  if (seed === undefined) fail(`--seed must be a number (decimal or 0x hex), not "${values.seed}"`);
  let only: FuzzCase[] | undefined;
  if (values.replay !== undefined) {
    only = values.replay.split(',').map((t) => {
      const s = parseSeed(t);
      if (s === undefined) fail(`--replay: "${t}" is not a seed`);
      return generateCase(s, grammarFor(profile));
    });
  }
  if (values['replay-file'] !== undefined) {
    try {
      only = [caseFromJson(JSON.parse(readFileSync(values['replay-file'], 'utf8')) as FuzzCaseJson)];
    } catch (err) {
      fail(`--replay-file ${values['replay-file']}: ${(err as Error).message}`);
    }
  }
  const outDir = resolve(values.out ?? 'var/fuzz');
  mkdirSync(outDir, { recursive: true });
  const args: RunArgs = {
    seed,
    cases: num('cases', values.cases),
    minutes: num('minutes', values.minutes),
    profile,
    shrink: !values['no-shrink'] && !only,
    only,
    outDir,
  };
  if (args.cases === undefined && args.minutes === undefined && !only) args.cases = 300;
  const wanted = values.fuzzer ? new Set(values.fuzzer.split(',')) : undefined;

  let failed = false;
  const results: FuzzerSummary[] = [];
  for (const f of FUZZERS) {
    if (wanted && !wanted.has(f.name)) continue;
    console.log(`=== ${f.name} fuzzer ===`);
    const s = await f.run(args);
    results.push(s);
    console.log(`\n${s.name}: cases run ${s.cases}`);
    for (const [k, v] of Object.entries(s.failures)) console.log(`  ${k.padEnd(16)} ${v}`);
    for (const [k, v] of Object.entries(s.figures)) console.log(`  ${k.padEnd(16)} ${v}`);
    if (s.details.length > 0) {
      console.log('\nfailures:');
      for (const line of s.details) console.log(line);
    }
    if (Object.values(s.failures).some((v) => v > 0)) failed = true;
  }
  const file = join(outDir, `fuzz-report-${Date.now()}.json`);
  writeFileSync(file, JSON.stringify(results.map((r) => ({ name: r.name, cases: r.cases, failures: r.failures, figures: r.figures, report: r.report })), null, 1) + '\n');
  console.log(`\nreport: ${file}`);
  process.exitCode = failed ? 1 : 0;
}

main().catch((err: unknown) => {
  console.error(`fuzz: ${(err as Error).message}`);
  process.exit(1);
});
