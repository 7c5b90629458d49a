/**
 * role-report: the part of `bench run`'s report that comes from the CPU per
 * role: for each MTA, mode and size, the medians over the rounds of each
 * role's CPU-ms per message (threads summed, thread count shown), the
 * scaling model's projection on 2, 8, 16 and 64 cores with the role that
 * caps each, and, when the same MTA ran pinned to CPU lists of different
 * sizes (--cpus 0 --cpus 0,1), the check of the model: the gain it predicts
 * from the smaller list to the larger against the gain measured round by
 * round. The bench process (generator and sink) counts in the check as one
 * more single-thread role, sharing the MTA's cores when its own CPU list
 * (--source-cpus) overlaps theirs. Pure functions over the run's cases.
 */
import { cpuListsOverlap, parseCpuList } from './cpu-pinning.js';
import type { CaseResult, ConnectionMode } from './e2e-run.js';
import { MAIN_ROLE, OTHER_ROLE, type RoleUsage } from './role-usage.js';
import { gainError, project, projectTable, threadCap, type Projection, type RoleCost } from './scaling-model.js';
import { CORES_PER_SHARD } from '../../src/config/queue-shard-count.js';
import { ROLE_NAMES, roleEntry, type RoleName } from '../../src/protocol/role-catalogue.js';

/** The bench process as a role of the check. */
export const BENCH_ROLE = 'generator+sink';

/** Per-role medians of one MTA, mode and size. */
export interface RoleSummary {
  mta: string;
  mode: ConnectionMode;
  size: number;
  rounds: number;
  roles: RoleUsage[];
  /** Sum over the roles (other included): the process's CPU per message as the MTA counts it. */
  totalCpuMsPerMessage: number;
  benchCpuMsPerMessage?: number;
  projection: Projection[];
}

/** One comparison of two CPU lists of the same MTA. */
export interface ScalingCheck {
  mta: string;
  mode: ConnectionMode;
  size: number;
  fromCpus: string;
  toCpus: string;
  fromCores: number;
  toCores: number;
  /** Median over the rounds of the end-to-end rate on `toCpus` over that on `fromCpus`. */
  measuredGain: number;
  /** What the model predicts from the per-role figures measured on `fromCpus`. */
  predictedGain: number;
  /** The same from the figures measured on `toCpus`. */
  predictedGainFromTo: number;
  /** |predicted - measured| / measured. */
  error: number;
  /** What caps each side in the model (from the `fromCpus` figures). */
  fromCappedBy: string;
  toCappedBy: string;
  /**
   * Cores the MTA kept busy on each side (medians; its roles' CPU over the
   * window). Well below the cores it was pinned to, the cores were not its
   * own (other work on the machine), which the model takes them to be.
   */
  fromCoresUsed: number;
  toCoresUsed: number;
}

function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

/** Role medians over cases (all of one MTA, mode and size), in first-seen order with "other" last. */
export function medianRoles(cases: readonly CaseResult[]): RoleUsage[] {
  const names: string[] = [];
  for (const c of cases) for (const r of c.roles ?? []) if (!names.includes(r.role)) names.push(r.role);
  names.sort((a, b) => Number(a === OTHER_ROLE) - Number(b === OTHER_ROLE));
  return names.map((role) => {
    const rows = cases.flatMap((c) => (c.roles ?? []).filter((r) => r.role === role));
    const busy = rows.map((r) => r.busy).filter((b): b is number => b !== undefined);
    return {
      role,
      threads: Math.max(...rows.map((r) => r.threads)),
      cpuMsPerMessage: median(rows.map((r) => r.cpuMsPerMessage)),
      cores: median(rows.map((r) => r.cores)),
      busy: busy.length ? median(busy) : undefined,
    };
  });
}

const isRole = (role: string): role is RoleName => (ROLE_NAMES as readonly string[]).includes(role);

/** Whether the role runs one thread per queue shard (the journal and qmgr). */
function isSharded(role: string): boolean {
  return isRole(role) && roleEntry(role).sharded === true;
}

/**
 * How the daemon runs a role's threads on any host (not how many one
 * measurement had: on one core smtpd is one thread too). A sharded role
 * has a thread per CORES_PER_SHARD cores (queue_shard_count "-", as the
 * bench runs the daemon); smtpd (a listener, maxproc "-") and the smtp
 * client (one per two cores) follow the cores, as "other" (the runtime's
 * GC and I/O threads) does; every other role of the catalogue
 * (trivial-rewrite, the rarely busy ones) and the main thread is one
 * thread; a role the catalogue does not know, when it ran one thread.
 */
function threadModel(r: RoleUsage): Pick<RoleCost, 'singleton' | 'coresPerThread'> {
  if (isSharded(r.role)) return { singleton: false, coresPerThread: CORES_PER_SHARD };
  if (r.role === OTHER_ROLE) return { singleton: false };
  if (r.role === MAIN_ROLE) return { singleton: true };
  if (!isRole(r.role)) return { singleton: r.threads === 1 };
  const e = roleEntry(r.role);
  return { singleton: !(e.listens === true || e.instances === 'cores') };
}

/** The model's view of measured roles (threadModel). */
export function roleCosts(roles: readonly RoleUsage[]): RoleCost[] {
  return roles.map((r) => ({
    role: r.role,
    threads: r.threads,
    cpuMsPerMessage: Number.isFinite(r.cpuMsPerMessage) ? r.cpuMsPerMessage : 0,
    ...threadModel(r),
  }));
}

/** Whether the role's threads cap the host (a singleton or a sharded role), not shared cores. */
function threadBound(r: RoleUsage): boolean {
  const m = threadModel(r);
  return m.singleton === true || m.coresPerThread !== undefined;
}

/** How the role that caps a projection is named: its thread count there and why it has that many. */
function cappedByText(p: Projection): string {
  if (p.cappedBy === 'cores') return 'cores (replicated roles share them)';
  if (isSharded(p.cappedBy)) return `${p.cappedBy} (${p.threadRoleThreads} thread${p.threadRoleThreads === 1 ? '' : 's'}: a queue shard per ${CORES_PER_SHARD} cores)`;
  return `${p.cappedBy} (one thread)`;
}

const groupKey = (c: CaseResult): string => `${c.size}\u0000${c.mode}\u0000${c.mta}`;

/** Role medians and the projection for each MTA, mode and size that has role figures. */
export function summarizeRoles(cases: readonly CaseResult[]): RoleSummary[] {
  const out: RoleSummary[] = [];
  for (const key of [...new Set(cases.filter((c) => c.roles).map(groupKey))]) {
    const mine = cases.filter((c) => c.roles && groupKey(c) === key);
    const roles = medianRoles(mine);
    const bench = mine.map((c) => c.benchCpuMsPerMessage).filter((b): b is number => b !== undefined);
    out.push({
      mta: mine[0].mta,
      mode: mine[0].mode,
      size: mine[0].size,
      rounds: mine.length,
      roles,
      totalCpuMsPerMessage: roles.reduce((s, r) => s + (Number.isFinite(r.cpuMsPerMessage) ? r.cpuMsPerMessage : 0), 0),
      benchCpuMsPerMessage: bench.length ? median(bench) : undefined,
      projection: projectTable(roleCosts(roles)),
    });
  }
  return out;
}

/** The model of one pinned run: the MTA's roles, plus the bench process sharing its cores when their CPU lists overlap. */
function checkModel(roles: readonly RoleUsage[], bench: number | undefined, mtaCpus: string, sourceCpus: string | undefined): RoleCost[] {
  const costs = roleCosts(roles);
  if (bench !== undefined) {
    costs.push({ role: BENCH_ROLE, threads: 1, cpuMsPerMessage: bench, singleton: true, sharesCores: sourceCpus === undefined || cpuListsOverlap(mtaCpus, sourceCpus) });
  }
  return costs;
}

function coresUsed(roles: readonly RoleUsage[]): number {
  return roles.reduce((sum, r) => sum + (Number.isFinite(r.cores) ? r.cores : 0), 0);
}

/** The check of the model for every MTA, mode and size run pinned to CPU lists of different sizes. */
export function scalingChecks(cases: readonly CaseResult[]): ScalingCheck[] {
  const out: ScalingCheck[] = [];
  const pinned = cases.filter((c) => c.cpus !== undefined && c.roles);
  const base = (c: CaseResult): string => c.mta.replace(/@[^@]*$/, '');
  for (const key of [...new Set(pinned.map((c) => `${c.size}\u0000${c.mode}\u0000${base(c)}`))]) {
    const mine = pinned.filter((c) => `${c.size}\u0000${c.mode}\u0000${base(c)}` === key);
    const lists = [...new Set(mine.map((c) => c.cpus as string))].sort((a, b) => parseCpuList(a).length - parseCpuList(b).length);
    if (lists.length < 2) continue;
    const from = lists[0];
    const fromCases = mine.filter((c) => c.cpus === from);
    const fromRoles = medianRoles(fromCases);
    const fromBench = median(fromCases.map((c) => c.benchCpuMsPerMessage ?? NaN));
    const sourceCpus = mine[0].sourceCpus;
    const fromCores = parseCpuList(from).length;
    for (const to of lists.slice(1)) {
      const toCases = mine.filter((c) => c.cpus === to);
      const toCores = parseCpuList(to).length;
      const gains: number[] = [];
      for (const c of toCases) {
        const b = fromCases.find((f) => f.round === c.round);
        if (b && b.endToEndPerSecond > 0) gains.push(c.endToEndPerSecond / b.endToEndPerSecond);
      }
      const measuredGain = median(gains);
      const bench = Number.isFinite(fromBench) ? fromBench : undefined;
      const pFrom = project(checkModel(fromRoles, bench, from, sourceCpus), fromCores);
      const pTo = project(checkModel(fromRoles, bench, to, sourceCpus), toCores);
      const toRoles = medianRoles(toCases);
      const toBench = median(toCases.map((c) => c.benchCpuMsPerMessage ?? NaN));
      const tb = Number.isFinite(toBench) ? toBench : undefined;
      const predictedGainFromTo =
        project(checkModel(toRoles, tb, to, sourceCpus), toCores).messagesPerSecond / project(checkModel(toRoles, tb, from, sourceCpus), fromCores).messagesPerSecond;
      const predictedGain = pTo.messagesPerSecond / pFrom.messagesPerSecond;
      out.push({
        mta: base(mine[0]), mode: mine[0].mode, size: mine[0].size, fromCpus: from, toCpus: to, fromCores, toCores,
        measuredGain, predictedGain, predictedGainFromTo, error: gainError(predictedGain, measuredGain),
        fromCappedBy: pFrom.cappedBy, toCappedBy: pTo.cappedBy,
        fromCoresUsed: coresUsed(fromRoles), toCoresUsed: coresUsed(toRoles),
      });
    }
  }
  return out;
}

const num = (n: number | undefined, digits = 0): string => (n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(digits));

function table(header: string[], rows: string[][], leftColumns = 1): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < leftColumns ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

/** One summary's per-role table and projection. */
export function formatRoleSummary(s: RoleSummary): string {
  const rows = s.roles.map((r) => [
    r.role,
    r.role === OTHER_ROLE && r.threads === 0 ? '?' : String(r.threads),
    num(r.cpuMsPerMessage, 3),
    s.totalCpuMsPerMessage > 0 ? `${num((r.cpuMsPerMessage / s.totalCpuMsPerMessage) * 100)}%` : '-',
    num(r.cores, 2),
    r.busy === undefined ? '-' : num(r.busy, 2),
    threadBound(r) ? num(threadCap(r, r.threads)) : 'shared',
  ]);
  rows.push(['total', '', num(s.totalCpuMsPerMessage, 3), '100%', '', '', '']);
  if (s.benchCpuMsPerMessage !== undefined) rows.push([`(${BENCH_ROLE}, bench process)`, '', num(s.benchCpuMsPerMessage, 3), '', '', '', '']);
  const roleTable = table(['role', 'threads', 'cpu ms/msg', 'share', 'cores used', 'busy', 'cap msg/s'], rows);
  const proj = table(
    ['cores', 'projected msg/s', 'capped by'],
    s.projection.map((p) => [String(p.cores), num(p.messagesPerSecond), cappedByText(p)]),
  );
  return `CPU per message per role: ${s.mta} ${s.mode} ${s.size} bytes (median of ${s.rounds} round${s.rounds === 1 ? '' : 's'}; ` +
    `${MAIN_ROLE} is the supervisor, ${OTHER_ROLE} the process beyond the listed threads)\n${roleTable}\n\n` +
    `scaling model: ${s.mta} ${s.mode} ${s.size} bytes\n${proj}`;
}

/** The check table. */
export function formatChecks(checks: readonly ScalingCheck[]): string {
  const text = 'scaling model check (gain of the end-to-end rate; predicted from the smaller CPU list\'s per-role figures, and from the larger\'s)\n' + table(
    ['mta', 'mode', 'size', 'cpus', 'measured gain', 'predicted', 'error', 'predicted (larger list figures)', 'capped by', 'MTA cores used'],
    checks.map((c) => [
      c.mta, c.mode, String(c.size), `${c.fromCpus} -> ${c.toCpus}`, `${num(c.measuredGain, 2)}x`, `${num(c.predictedGain, 2)}x`,
      `${num(c.error * 100)}%`, `${num(c.predictedGainFromTo, 2)}x`, `${c.fromCappedBy} -> ${c.toCappedBy}`,
      `${num(c.fromCoresUsed, 2)} of ${c.fromCores} -> ${num(c.toCoresUsed, 2)} of ${c.toCores}`,
    ]),
    2,
  );
  const starved = checks.filter((c) => c.fromCoresUsed < 0.7 * c.fromCores);
  return starved.length === 0 ? text : `${text}\nnote: the MTA kept ${starved.map((c) => `${num(c.fromCoresUsed, 2)} of its ${c.fromCores} pinned core${c.fromCores === 1 ? '' : 's'} busy (${c.mode} ${c.size})`).join(', ')}: ` +
    'other work on the machine took the rest, and the model takes the cores to be the MTA\'s alone, so its prediction does not apply to such a run';
}

/** Everything role-related a run prints; empty when no case had role figures. */
export function formatRoleReport(cases: readonly CaseResult[]): string {
  const parts = summarizeRoles(cases).map(formatRoleSummary);
  const checks = scalingChecks(cases);
  if (checks.length) parts.push(formatChecks(checks));
  return parts.join('\n\n');
}
