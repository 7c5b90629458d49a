/**
 * smtp-fuzz: the grammar-aware SMTP client fuzzer's engine. It starts the
 * real daemon relaying to a sink (smtp-fuzz-target), plays case after case
 * (each generated from a seed derived from the campaign seed, so any case
 * is replayed by its own seed), and after each case applies the oracles:
 *
 *   crash           the daemon exited, or an actor's restart counter
 *                   (`postrider status --json`) went up;
 *   hang            a fresh session got no greeting/EHLO/QUIT answer within
 *                   probeTimeoutMs, or the control socket did not answer;
 *   malformed       a reply that is not a well-formed SMTP reply;
 *   stall           a complete command left unanswered (smtp-fuzz-client);
 *   protocol        the semantic oracles of smtp-fuzz-client;
 *   internal-error  the daemon logged an internal error or an uncaught one;
 * and at the end, once the queue has drained:
 *   lost            a message that got "250 ... queued as ID" never reached
 *                   the sink, neither delivered nor as a failure notice;
 *   stuck           one still in the queue after drainTimeoutMs.
 *
 * Findings are grouped by kind and a stable description; the first case of
 * each group is shrunk (steps dropped while the same finding still comes)
 * to a minimal reproduction, kept as a JSON case for `--replay-file`.
 * runSmtpFuzz() never throws for what the daemon does; it rejects only when
 * the target cannot be started.
 */
import { caseSeed, formatSeed } from './fuzz-prng.js';
import { caseToJson, type FuzzCase, type FuzzCaseJson } from './smtp-fuzz-case.js';
import { runFuzzCase, type DriverOptions, type Finding, type FindingKind } from './smtp-fuzz-client.js';
import { generateCase, type GrammarOptions } from './smtp-fuzz-grammar.js';
import { escapeBytes } from './smtp-fuzz-reply.js';
import { AUTH_SECRET, AUTH_USER, DEFAULT_LIMITS, startFuzzTarget, type FuzzTarget } from './smtp-fuzz-target.js';

export const FINDING_KINDS: readonly FindingKind[] = ['crash', 'hang', 'malformed', 'stall', 'protocol', 'internal-error', 'lost', 'stuck'];

export interface FuzzOptions {
  /** The campaign seed; case i has seed caseSeed(seed, i). */
  seed: number;
  /** Stop after this many cases (default: unlimited when minutes is set, else 100). */
  cases?: number;
  /** Stop after this many minutes of cases (the drain comes after). */
  minutes?: number;
  /** 'suite' keeps cases small and quick; 'campaign' adds megabyte content and longer slow writes. */
  profile?: 'suite' | 'campaign';
  /** Replay exactly these cases instead of generating. */
  only?: FuzzCase[];
  /** Shrink the first case of each new failure (default true). */
  shrink?: boolean;
  /** Case runs one shrink may use (default 40), and the time it may take (default 90 s). */
  maxShrinkRuns?: number;
  maxShrinkMs?: number;
  /** A complete command may go unanswered this long (default 10 s). */
  stallMs?: number;
  /** A fresh session must be answered within this (default 10 s). */
  probeTimeoutMs?: number;
  /** How long to wait at the end for the queue to drain (default 60 s). */
  drainTimeoutMs?: number;
  /** Extra main.cf parameters for the target. */
  params?: Record<string, string>;
  onProgress?: (line: string) => void;
}

/** The first case of a failure group, and its shrunk form. */
export interface FailureExample {
  seed: string;
  detail: string;
  transcript: string[];
  case: FuzzCaseJson;
}

/** One distinct failure: a kind and a stable description, with how often and where it came. */
export interface FailureGroup {
  kind: FindingKind;
  what: string;
  count: number;
  /** Seeds of the first cases that showed it. */
  seeds: string[];
  first: FailureExample;
  /** The smallest case found that still shows it (absent when not shrunk or not reproduced). */
  minimal?: FailureExample & { steps: number; runs: number };
  /** Set when the first case did not show the failure again on replay. */
  flaky?: boolean;
}

export interface FuzzReport {
  seed: string;
  cases: number;
  elapsedMs: number;
  /** Findings per kind (a case counts once per distinct finding). */
  counts: Record<FindingKind, number>;
  /** Messages that got 250 with a queue id, and what became of them (bounced: with a notice at the sink, or none due, as the log shows). */
  accepted: number;
  delivered: number;
  bounced: number;
  lost: number;
  stuck: number;
  /** Messages the sink got that no client saw a 250 for (a reply lost to an abrupt close, say). */
  unexpected: number;
  /** Queue ids that reached the sink more than once. */
  duplicated: number;
  /** Actor restarts during the campaign, and daemon exits. */
  restarts: number;
  daemonExits: number;
  failures: FailureGroup[];
}

/** Log lines that tell of a bug even when nothing restarted. */
const INTERNAL_ERROR = /internal error|uncaught|unhandled|TypeError|RangeError|ReferenceError|restriction evaluation:|submit failed:|Maximum call stack/i;
/** The supervisor's account of an actor that went away. */
const ACTOR_GONE = /process (\S+) pid \d+(?::)? (exit status .*|not responding.*)$/;

/** Per-case oracles beyond the client's own. */
async function judgeAfterCase(target: FuzzTarget, before: Map<string, number> | undefined, probeTimeoutMs: number): Promise<{ findings: Finding[]; after: Map<string, number> | undefined; exited: boolean }> {
  const findings: Finding[] = [];
  let exited = false;
  if (!target.alive()) {
    exited = true;
    const code = target.daemon.child.exitCode ?? target.daemon.child.signalCode;
    const log = target.newLogLines().filter((l) => /fatal|panic|warning/.test(l)).slice(-3).join(' | ');
    findings.push({ kind: 'crash', what: 'daemon exited', detail: `exit ${code}: ${log}` });
    await target.restart();
    return { findings, after: await target.restarts(), exited };
  }
  const failed = await probeUntil(target, probeTimeoutMs);
  if (failed) findings.push({ kind: 'hang', what: 'no answer to a fresh session after the case', detail: failed });
  const lines = target.newLogLines();
  // an actor that went away: its restart counter went up, or the supervisor logged it (the restart may still be under way)
  const gone = new Map<string, string>();
  for (const l of lines) {
    const m = ACTOR_GONE.exec(l);
    if (!m) continue;
    // a hung actor is logged twice (killed, then its exit): one cause, one name
    if (m[2].includes('not responding')) gone.set(m[1], 'not responding, killed by the watchdog');
    else if (!gone.has(m[1])) gone.set(m[1], m[2]);
  }
  let after = await target.restarts();
  // wait for those restarts to show in the counters, so the next case is not blamed for them
  const byRole = (m: Map<string, number>, role: string): number => [...m].filter(([k]) => k.startsWith(`${role}[`)).reduce((n, [, v]) => n + v, 0);
  const deadline = Date.now() + 10_000;
  while (before && after && gone.size > 0 && Date.now() < deadline && ![...gone.keys()].every((role) => byRole(after!, role) > byRole(before, role))) {
    await new Promise((r) => setTimeout(r, 200));
    after = (await target.restarts()) ?? after;
  }
  if (!after) findings.push({ kind: 'hang', what: 'control socket does not answer', detail: 'status got no reply in 10 s' });
  const reported = new Set<string>();
  if (before && after) {
    for (const [actor, n] of after) {
      const was = before.get(actor) ?? 0;
      if (n > was) {
        const role = actor.replace(/\[\d+\]$/, '');
        const reason = gone.get(role) ?? 'restarted (no log line)';
        reported.add(role);
        findings.push({ kind: 'crash', what: `${role} restarted: ${normalise(reason)}`, detail: `${actor} restarts ${was} -> ${n}: ${reason}` });
      }
    }
  }
  for (const [role, reason] of gone) {
    if (!reported.has(role)) findings.push({ kind: 'crash', what: `${role} restarted: ${normalise(reason)}`, detail: `${role}: ${reason}` });
  }
  const seen = new Set<string>();
  for (const l of lines) {
    if (!INTERNAL_ERROR.test(l) || ACTOR_GONE.test(l)) continue;
    const text = l.replace(/^.*?postrider\/[^:]*: /, '');
    const what = normalise(text);
    if (seen.has(what)) continue;
    seen.add(what);
    findings.push({ kind: 'internal-error', what, detail: text.slice(0, 300) });
  }
  return { findings, after, exited };
}

/** A probe that retries refused connections (an actor restarting) until the bound. */
async function probeUntil(target: FuzzTarget, timeoutMs: number): Promise<string | undefined> {
  const deadline = Date.now() + timeoutMs;
  let last: string | undefined;
  while (Date.now() < deadline) {
    last = await target.probe(Math.max(100, deadline - Date.now()));
    if (!last) return undefined;
    if (!/ECONNREFUSED|ECONNRESET|closed at connect/.test(last)) return last;
    await new Promise((r) => setTimeout(r, 100));
  }
  return last ?? `no answer within ${timeoutMs} ms`;
}

/** Numbers, queue ids and addresses out, so one cause is one group. */
function normalise(text: string): string {
  return text
    .replace(/[0-9A-Za-z]{12,}/g, 'ID')
    .replace(/\d+/g, 'N')
    .replace(/<[^>]*>/g, '<..>')
    .replace(/\s+/g, ' ')
    .slice(0, 140);
}

/** The grammar's options for a profile (the target's limits, slow-write bound, large content or not). */
export function grammarFor(profile: 'suite' | 'campaign'): GrammarOptions {
  return {
    ...DEFAULT_LIMITS,
    maxSlowMs: profile === 'suite' ? 1200 : 4000,
    large: profile === 'campaign',
    authUser: AUTH_USER,
    authSecret: AUTH_SECRET,
  };
}

/** Runs the campaign; see the file comment. */
export async function runSmtpFuzz(opts: FuzzOptions): Promise<FuzzReport> {
  const profile = opts.profile ?? 'campaign';
  const limits = DEFAULT_LIMITS;
  const grammar = grammarFor(profile);
  const probeTimeoutMs = opts.probeTimeoutMs ?? 10_000;
  const stallMs = opts.stallMs ?? 10_000;
  const progress = opts.onProgress ?? (() => undefined);
  const maxCases = opts.only ? opts.only.length : (opts.cases ?? (opts.minutes ? Number.POSITIVE_INFINITY : 100));
  const endAt = opts.minutes ? Date.now() + opts.minutes * 60_000 : Number.POSITIVE_INFINITY;
  const shrink = opts.shrink ?? true;

  const target = await startFuzzTarget(limits, opts.params);
  const driver: DriverOptions = {
    host: target.host,
    ports: target.ports,
    stallMs,
    recipientLimit: limits.recipientLimit,
    messageSizeLimit: limits.messageSizeLimit,
    probe: () => target.probe(probeTimeoutMs),
  };
  const started = Date.now();
  const groups = new Map<string, FailureGroup>();
  const counts = Object.fromEntries(FINDING_KINDS.map((k) => [k, 0])) as Record<FindingKind, number>;
  /** Queue id -> the case seed and token that got it. */
  const accepted = new Map<string, { seed: number; token?: string }>();
  let restarts = 0;
  let daemonExits = 0;
  let cases = 0;
  let lastProgress = 0;

  /** Plays one case and every per-case oracle; returns the findings (one per distinct finding). */
  const play = async (c: FuzzCase, before: Map<string, number> | undefined) => {
    const outcome = await runFuzzCase(c, driver);
    const after = await judgeAfterCase(target, before, probeTimeoutMs);
    const all = [...outcome.findings, ...after.findings];
    const unique = new Map<string, Finding>();
    for (const f of all) if (!unique.has(`${f.kind}|${f.what}`)) unique.set(`${f.kind}|${f.what}`, f);
    return { outcome, after, findings: [...unique.values()] };
  };

  let restartsNow = await target.restarts();
  try {
    for (let i = 0; i < maxCases && Date.now() < endAt; i++) {
      const c = opts.only ? opts.only[i] : generateCase(caseSeed(opts.seed, i), grammar);
      const { outcome, after, findings } = await play(c, restartsNow);
      cases++;
      if (after.exited) daemonExits++;
      if (restartsNow && after.after) {
        for (const [actor, n] of after.after) restarts += Math.max(0, n - (restartsNow.get(actor) ?? 0));
      }
      restartsNow = after.after;
      for (const a of outcome.accepted) accepted.set(a.queueId, { seed: c.seed, token: a.token });
      for (const f of findings) {
        counts[f.kind]++;
        const key = `${f.kind}|${f.what}`;
        const g = groups.get(key);
        if (g) {
          g.count++;
          if (g.seeds.length < 10) g.seeds.push(formatSeed(c.seed));
          continue;
        }
        const group: FailureGroup = {
          kind: f.kind,
          what: f.what,
          count: 1,
          seeds: [formatSeed(c.seed)],
          first: { seed: formatSeed(c.seed), detail: f.detail, transcript: outcome.transcript, case: caseToJson(c) },
        };
        groups.set(key, group);
        progress(`new failure [${f.kind}] ${f.what} (seed ${formatSeed(c.seed)}): ${f.detail.slice(0, 200)}`);
        if (shrink) {
          const s = await shrinkCase(c, f, opts.maxShrinkRuns ?? 40, Date.now() + (opts.maxShrinkMs ?? 90_000), async (cand) => {
            const r = await play(cand, restartsNow);
            restartsNow = r.after.after;
            for (const a of r.outcome.accepted) accepted.set(a.queueId, { seed: cand.seed, token: a.token });
            return r;
          });
          if (s.reproduced) {
            group.minimal = { seed: formatSeed(c.seed), detail: s.detail, transcript: s.transcript, case: caseToJson(s.case), steps: s.case.steps.length, runs: s.runs };
            progress(`  shrunk to ${s.case.steps.length} of ${c.steps.length} steps in ${s.runs} runs`);
          } else {
            group.flaky = true;
            progress('  not shown again on replay (timing-dependent)');
          }
          restartsNow = await target.restarts();
        }
      }
      if (Date.now() - lastProgress > 5000) {
        lastProgress = Date.now();
        const rate = (cases / ((Date.now() - started) / 1000)).toFixed(1);
        progress(`cases ${cases} (${rate}/s) ${FINDING_KINDS.filter((k) => k !== 'lost' && k !== 'stuck').map((k) => `${k} ${counts[k]}`).join(' ')} accepted ${accepted.size}`);
      }
    }

    // ---- the end: the queue drains, then every 250 is accounted ----
    progress(`cases done (${cases}); waiting for the queue to drain`);
    const drainEnd = Date.now() + (opts.drainTimeoutMs ?? 60_000);
    const unaccounted = (): string[] => [...accepted.keys()].filter((id) => !target.ledger.delivered.has(id) && !target.ledger.bounced.has(id));
    // done when everything is accounted for, or the queue has stayed empty for 3 s (a bounce with no notice due)
    let emptySince: number | undefined;
    while (Date.now() < drainEnd) {
      const q = await target.queued();
      if (q === 0 && unaccounted().length === 0) break;
      emptySince = q === 0 ? (emptySince ?? Date.now()) : undefined;
      if (emptySince !== undefined && Date.now() - emptySince > 3000) break;
      await new Promise((r) => setTimeout(r, 250));
    }
    const missing = unaccounted();
    const stillQueued = new Map<string, string>();
    if (missing.length > 0) {
      const q = await target.daemon.cli(['queue', '--json']);
      for (const line of q.stdout.split('\n')) {
        if (!line.trim()) continue;
        try {
          const e = JSON.parse(line) as { queue_id: string; queue_name: string; recipients?: Array<{ delay_reason?: string }> };
          stillQueued.set(e.queue_id, `${e.queue_name}: ${e.recipients?.map((r) => r.delay_reason).filter(Boolean).join('; ') ?? ''}`);
        } catch {
          // not a queue line
        }
      }
    }
    // a bounce owes no notice to the null sender or to NOTIFY=NEVER: the log says so
    const logs = target.logAbout(missing);
    let lost = 0;
    let stuck = 0;
    let bouncedSilently = 0;
    for (const id of missing) {
      const where = stillQueued.get(id);
      const origin = accepted.get(id)!;
      const lines = logs.get(id) ?? [];
      if (where === undefined && lines.some((l) => /status=bounced/.test(l)) && !lines.some((l) => /notification: /.test(l)) && lines.some((l) => / removed$/.test(l))) {
        bouncedSilently++;
        continue;
      }
      const kind: FindingKind = where !== undefined ? 'stuck' : 'lost';
      if (kind === 'lost') lost++;
      else stuck++;
      counts[kind]++;
      const what = kind === 'lost' ? 'message got 250 but never reached the sink' : `message still queued after the drain: ${normalise(where ?? '')}`;
      const key = `${kind}|${what}`;
      const detail = `queue id ${id}, token ${origin.token ?? '?'}${where ? `, ${where}` : ''}; log: ${lines.slice(-4).join(' | ').slice(0, 600)}`;
      const g = groups.get(key);
      if (g) {
        g.count++;
        if (g.seeds.length < 10) g.seeds.push(formatSeed(origin.seed));
      } else {
        const c = opts.only?.find((x) => x.seed === origin.seed) ?? generateCase(origin.seed, grammar);
        groups.set(key, {
          kind, what, count: 1, seeds: [formatSeed(origin.seed)],
          first: { seed: formatSeed(origin.seed), detail, transcript: c.steps.map((s) => `C: ${escapeBytes(s.bytes, 240)}`), case: caseToJson(c) },
        });
      }
    }
    const ids = new Set(accepted.keys());
    let unexpected = 0;
    let duplicated = 0;
    for (const [id, n] of target.ledger.delivered) {
      if (n > 1) duplicated++;
      if (!ids.has(id)) unexpected++;
    }
    const delivered = [...ids].filter((id) => target.ledger.delivered.has(id)).length;
    const bounced = [...ids].filter((id) => !target.ledger.delivered.has(id) && target.ledger.bounced.has(id)).length + bouncedSilently;
    return {
      seed: formatSeed(opts.seed),
      cases,
      elapsedMs: Date.now() - started,
      counts,
      accepted: ids.size,
      delivered,
      bounced,
      lost,
      stuck,
      unexpected,
      duplicated,
      restarts,
      daemonExits,
      failures: [...groups.values()],
    };
  } finally {
    await target.stop();
  }
}

interface ShrinkResult {
  reproduced: boolean;
  case: FuzzCase;
  detail: string;
  transcript: string[];
  runs: number;
}

/**
 * Drops steps (halves, then smaller runs, as delta debugging does) while the
 * same finding (kind and description) still comes; first checks that the
 * case shows it again at all.
 */
async function shrinkCase(
  c: FuzzCase,
  f: Finding,
  maxRuns: number,
  until: number,
  run: (c: FuzzCase) => Promise<{ outcome: { transcript: string[] }; findings: Finding[] }>,
): Promise<ShrinkResult> {
  if (f.kind === 'lost' || f.kind === 'stuck') return { reproduced: false, case: c, detail: f.detail, transcript: [], runs: 0 };
  let runs = 0;
  const shows = async (cand: FuzzCase): Promise<{ detail: string; transcript: string[] } | undefined> => {
    runs++;
    // out of time counts as out of runs
    if (Date.now() > until) runs = Math.max(runs, maxRuns);
    const r = await run(cand);
    const hit = r.findings.find((x) => x.kind === f.kind && x.what === f.what);
    return hit ? { detail: hit.detail, transcript: r.outcome.transcript } : undefined;
  };
  const again = await shows(c);
  if (!again) return { reproduced: false, case: c, detail: f.detail, transcript: [], runs };
  let cur = c;
  let best = again;
  let n = 2;
  while (cur.steps.length >= 1 && runs < maxRuns) {
    const len = cur.steps.length;
    const chunk = Math.max(1, Math.ceil(len / n));
    let removed = false;
    for (let start = 0; start < len && runs < maxRuns; start += chunk) {
      const cand: FuzzCase = { ...cur, steps: [...cur.steps.slice(0, start), ...cur.steps.slice(start + chunk)] };
      const hit = await shows(cand);
      if (hit) {
        cur = cand;
        best = hit;
        n = Math.max(2, n - 1);
        removed = true;
        break;
      }
    }
    if (!removed) {
      if (chunk <= 1) break;
      n = Math.min(len, n * 2);
    }
  }
  // the plainest way of sending that still shows it
  for (const transport of ['lockstep', 'pipelined'] as const) {
    if (runs >= maxRuns || cur.transport === transport || cur.transport === 'lockstep') break;
    const cand = { ...cur, transport, early: false };
    const hit = await shows(cand);
    if (hit) {
      cur = cand;
      best = hit;
    }
  }
  return { reproduced: true, case: cur, detail: best.detail, transcript: best.transcript, runs };
}
