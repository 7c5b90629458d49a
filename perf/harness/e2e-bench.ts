/**
 * e2e-bench: the end-to-end run as `npm run bench` runs it (BENCH=e2e-relay):
 * generator -> MTA -> sink for the sizes in SIZES, both connection modes,
 * the ceiling (generator straight to the sink) next to Postrider.
 * Env: COUNT (2000), SESSIONS (16), SIZES (1024,65536), MODE
 * (kept|per-connection|both), MTA (direct,postrider), ROUNDS (1),
 * COMPARE_NAME / COMPARE_START / COMPARE_STOP (another MTA, as
 * `postrider bench run --compare-start`), JSON (a file for all results).
 * `postrider bench run` is the same with options.
 */
import { parseMtas } from './bench-command.js';
import { formatRun, summarize, writeJson } from './bench-report.js';
import { runBench, type CaseResult, type ConnectionMode, type RunOptions } from './e2e-run.js';

const env = process.env;
const mode = env.MODE ?? 'both';
const modes: ConnectionMode[] = mode === 'both' ? ['kept', 'per-connection'] : [mode as ConnectionMode];
const mtas = parseMtas(env.MTA ?? 'direct,postrider', { name: env.COMPARE_NAME, start: env.COMPARE_START, stop: env.COMPARE_STOP });
const baseline = env.COMPARE_START ? (env.COMPARE_NAME ?? 'other') : mtas.some((m) => m.kind === 'direct') ? 'direct' : undefined;

const all: CaseResult[] = [];
for (const size of (env.SIZES ?? '1024,65536').split(',').map(Number)) {
  const opts: RunOptions = {
    count: Number(env.COUNT ?? 2000),
    sessions: Number(env.SESSIONS ?? 16),
    size,
    recipients: 1,
    uniqueRecipients: false,
    modes,
    mtas,
    rounds: Number(env.ROUNDS ?? 1),
  };
  const cases = await runBench(opts);
  all.push(...cases);
  console.log(`\n${size} B messages, ${opts.count} per case, ${opts.sessions} sessions`);
  console.log(formatRun(cases, summarize(cases, baseline), baseline));
}
if (env.JSON) writeJson(env.JSON, { sizes: env.SIZES, mtas, modes }, all, summarize(all, baseline));
