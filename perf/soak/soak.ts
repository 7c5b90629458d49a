/**
 * soak: `npm run soak -- --minutes 20` — runs the soak (soak-run) and
 * prints its figures: messages sent, accepted, delivered, bounced, lost,
 * misrouted, duplicated; faults and reloads; actor restarts and daemon
 * exits; RSS at start and end, its peak and its trend; and writes the
 * whole report as JSON. Exits 1 when anything accepted was lost or
 * misrouted, the daemon exited by itself, a reload failed, a refused
 * message was delivered anyway, or the queue did not drain; 2 on bad
 * arguments.
 *
 * Options: --minutes M (default 20), --rate N msg/s (10), --fault-every S
 * (30; 0 none), --sigkill-every N (8; 0 never), --disk-full-every N (8,
 * half-way between SIGKILLs; needs root to mount the queue's own tmpfs),
 * --no-disk-full, --faults PLAN (a fixed list instead of the rotation, each
 * once: sigkill, disk-full or ROLE:INSTANCE:throw|exit|oom|hang,
 * comma-separated), --reload-every S (120), --max-size BYTES (5 MiB),
 * --kept N (3), --new N (2), --drain-timeout S (300), --seed N,
 * --json FILE (default var/soak/soak-DATE.json; the daemon's mail log is
 * kept beside it as FILE.maillog).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { parseFaultPlan, type Fault } from './soak-faults.js';
import { runSoak, soakProblems, type SoakReport } from './soak-run.js';

function fail(message: string): never {
  console.error(`soak: ${message}`);
  console.error('usage: npm run soak -- [--minutes M] [--rate N] [--fault-every S] [--sigkill-every N] [--faults PLAN] [--reload-every S] [--max-size BYTES] [--json FILE]');
  process.exit(2);
}

function table(r: SoakReport): string {
  const a = r.account;
  const rows: Array<[string, string | number]> = [
    ['run', `${r.runId}: ${r.loadSeconds}s of load at ${r.rate} msg/s, drain ${r.drainSeconds}s${r.drained ? '' : ' (NOT drained)'}`],
    ['messages sent', r.sent],
    ['messages accepted (250)', `${a.messages} (${r.acceptedMiB} MiB, ${a.recipients} recipients)`],
    ['recipients delivered', a.delivered],
    ['recipients bounced (by fate)', a.bounced],
    ['messages fully accounted', a.messagesComplete],
    ['lost', a.lost],
    ['misrouted', a.misrouted],
    ['duplicated', a.duplicated],
    ['unexpected (reply lost)', a.unexpectedAfterFailure],
    ['unexpected (refused, delivered)', a.unexpectedAfterRefusal.length],
    ['sink refusals', Object.entries(r.sink.refusals).map(([k, v]) => `${k} ${v}`).join(', ')],
    ['faults injected', `${r.faults.length} (${r.faultsFailed} refused)`],
    ['reloads', `${r.reloads} (${r.reloadsFailed} failed)`],
    ['actor restarts', `${r.restarts} ${JSON.stringify(r.restartsByRole)}`],
    ['daemon exits (not ours)', r.daemonExits],
    ...(r.diskFullSkipped ? [['full-disk fault', `skipped: ${r.diskFullSkipped}`] as [string, string]] : []),
    ['RSS start / end / max', `${r.rss.startMiB} / ${r.rss.endMiB} / ${r.rss.maxMiB} MiB`],
    ['RSS trend (per-minute minima)', `${r.rss.trendMiBPerMin} MiB/min`],
  ];
  return rows.map(([k, v]) => `  ${k.padEnd(32)} ${v}`).join('\n');
}

async function main(): Promise<void> {
  let values;
  try {
    ({ values } = parseArgs({
      options: {
        minutes: { type: 'string' },
        rate: { type: 'string' },
        'fault-every': { type: 'string' },
        'sigkill-every': { type: 'string' },
        faults: { type: 'string' },
        'reload-every': { type: 'string' },
        'max-size': { type: 'string' },
        kept: { type: 'string' },
        new: { type: 'string' },
        'drain-timeout': { type: 'string' },
        'no-disk-full': { type: 'boolean' },
        'disk-full-every': { type: 'string' },
        seed: { type: 'string' },
        json: { type: 'string' },
      },
    }));
  } catch (err) {
    fail((err as Error).message);
  }
  const num = (name: string, v: string | undefined, min = 0): number | undefined => {
    if (v === undefined) return undefined;
    const n = Number(v);
    if (!Number.isFinite(n) || n < min) fail(`--${name} must be a number of at least ${min}, not "${v}"`);
    return n;
  };
  let faultPlan: Fault[] | undefined;
  if (values.faults !== undefined) {
    try {
      faultPlan = parseFaultPlan(values.faults);
    } catch (err) {
      fail((err as Error).message);
    }
  }
  // the report and the daemon's mail log go side by side: FILE.json and FILE.maillog
  const jsonBase = (values.json ?? `var/soak/soak-${new Date().toISOString().replace(/[:.]/g, '-')}.json`).replace(/\.json$/, '');
  mkdirSync(dirname(resolve(jsonBase)), { recursive: true });
  const report = await runSoak({
    minutes: num('minutes', values.minutes, 0.1) ?? 20,
    rate: num('rate', values.rate, 0.1),
    faultEverySec: num('fault-every', values['fault-every']),
    sigkillEvery: num('sigkill-every', values['sigkill-every']),
    diskFull: !values['no-disk-full'],
    diskFullEvery: num('disk-full-every', values['disk-full-every']),
    faultPlan,
    reloadEverySec: num('reload-every', values['reload-every']),
    maxSize: num('max-size', values['max-size'], 1024),
    keptSessions: num('kept', values.kept),
    newSessions: num('new', values.new),
    drainTimeoutSec: num('drain-timeout', values['drain-timeout'], 1),
    seed: num('seed', values.seed),
    keepLogAs: resolve(`${jsonBase}.maillog`),
    onProgress: (line) => console.log(`  ${line}`),
  });
  const file = resolve(`${jsonBase}.json`);
  writeFileSync(file, JSON.stringify(report, null, 1) + '\n');
  console.log('\nsoak:');
  console.log(table(report));
  for (const [k, list] of Object.entries(report.examples)) if (list.length) console.log(`  ${k}: ${list.join('; ')}`);
  if (Object.keys(report.logWarnings).length) {
    console.log('\nlog warnings (grouped):');
    for (const [k, n] of Object.entries(report.logWarnings).sort((x, y) => y[1] - x[1]).slice(0, 25)) console.log(`  ${String(n).padStart(5)}  ${k}`);
  }
  if (Object.keys(report.clientErrors).length) {
    console.log('\nclient-side refusals and failures:');
    for (const [k, n] of Object.entries(report.clientErrors).sort((x, y) => y[1] - x[1]).slice(0, 15)) console.log(`  ${String(n).padStart(5)}  ${k}`);
  }
  console.log(`\nreport: ${file}`);
  const problems = soakProblems(report);
  if (problems.length > 0) console.log(`\nFAILED: ${problems.join('; ')}`);
  process.exitCode = problems.length > 0 ? 1 : 0;
}

main().catch((err: unknown) => {
  console.error(`soak: ${(err as Error).message}`);
  process.exit(1);
});
