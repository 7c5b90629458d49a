/**
 * bench-report: what an end-to-end run prints and saves: a line per case, a
 * summary per MTA and mode (medians over the rounds) with each MTA's rate as
 * a ratio to a baseline MTA measured in the same rounds, and the JSON file
 * holding all of it with the machine's description.
 */
import { writeFileSync } from 'node:fs';
import { cpus, totalmem, release } from 'node:os';
import type { CaseResult, ConnectionMode } from './e2e-run.js';

export interface SummaryRow {
  mta: string;
  mode: ConnectionMode;
  size: number;
  rounds: number;
  acceptPerSecond: number;
  endToEndPerSecond: number;
  p50: number;
  p99: number;
  p999: number;
  lost: number;
  duplicated: number;
  mtaCpuMsPerMessage?: number;
  mtaPeakRssMiB?: number;
  mtaPeakPssMiB?: number;
  /** Median over rounds of this MTA's end-to-end rate over the baseline's in the same round. */
  ratioToBaseline?: number;
}

function median(values: number[]): number {
  const v = values.filter((x) => Number.isFinite(x)).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const mid = Math.floor(v.length / 2);
  return v.length % 2 ? v[mid] : (v[mid - 1] + v[mid]) / 2;
}

function optionalMedian(values: Array<number | undefined>): number | undefined {
  const v = values.filter((x): x is number => x !== undefined);
  return v.length ? median(v) : undefined;
}

/** Medians per (MTA, mode, size) and ratios to `baseline` (an MTA name) round by round. */
export function summarize(cases: CaseResult[], baseline?: string): SummaryRow[] {
  const rows: SummaryRow[] = [];
  const keys = [...new Set(cases.map((c) => `${c.size}\u0000${c.mode}\u0000${c.mta}`))];
  for (const key of keys) {
    const [sizeText, mode, mta] = key.split('\u0000') as [string, ConnectionMode, string];
    const size = Number(sizeText);
    const mine = cases.filter((c) => c.mta === mta && c.mode === mode && c.size === size);
    const ratios: number[] = [];
    if (baseline && baseline !== mta) {
      for (const c of mine) {
        const base = cases.find((b) => b.mta === baseline && b.mode === mode && b.size === size && b.round === c.round);
        if (base && base.endToEndPerSecond > 0) ratios.push(c.endToEndPerSecond / base.endToEndPerSecond);
      }
    }
    rows.push({
      mta,
      mode,
      size,
      rounds: mine.length,
      acceptPerSecond: median(mine.map((c) => c.acceptPerSecond)),
      endToEndPerSecond: median(mine.map((c) => c.endToEndPerSecond)),
      p50: median(mine.map((c) => c.latencyMs.p50)),
      p99: median(mine.map((c) => c.latencyMs.p99)),
      p999: median(mine.map((c) => c.latencyMs.p999)),
      lost: mine.reduce((s, c) => s + c.lost, 0),
      duplicated: mine.reduce((s, c) => s + c.duplicated, 0),
      mtaCpuMsPerMessage: optionalMedian(mine.map((c) => c.mtaCpuMsPerMessage)),
      mtaPeakRssMiB: optionalMedian(mine.map((c) => c.mtaPeakRssMiB)),
      mtaPeakPssMiB: optionalMedian(mine.map((c) => c.mtaPeakPssMiB)),
      ratioToBaseline: ratios.length ? median(ratios) : undefined,
    });
  }
  return rows;
}

const num = (n: number | undefined, digits = 0): string => (n === undefined || !Number.isFinite(n) ? '-' : n.toFixed(digits));

function table(header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i < 2 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), ...rows.map(line)].join('\n');
}

/** One line per case. */
function formatCases(cases: CaseResult[]): string {
  return table(
    ['mta', 'mode', 'round', 'accepted', 'accept/s', 'e2e/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'lost', 'dup', 'cpu ms/msg', 'RSS MiB', 'PSS MiB'],
    cases.map((c) => [
      c.mta, c.mode, String(c.round), `${c.accepted}/${c.count}`, num(c.acceptPerSecond), num(c.endToEndPerSecond),
      num(c.latencyMs.p50, 1), num(c.latencyMs.p99, 1), num(c.latencyMs.p999, 1), String(c.lost), String(c.duplicated),
      num(c.mtaCpuMsPerMessage, 2), num(c.mtaPeakRssMiB), num(c.mtaPeakPssMiB),
    ]),
  );
}

/** The summary table; the ratio column is named after the baseline. */
export function formatSummary(rows: SummaryRow[], baseline?: string): string {
  return table(
    ['mta', 'mode', 'size', 'rounds', 'accept/s', 'e2e/s', 'p50 ms', 'p99 ms', 'p99.9 ms', 'lost', 'dup', 'cpu ms/msg', 'RSS MiB', 'PSS MiB', baseline ? `x ${baseline}` : 'ratio'],
    rows.map((r) => [
      r.mta, r.mode, String(r.size), String(r.rounds), num(r.acceptPerSecond), num(r.endToEndPerSecond), num(r.p50, 1), num(r.p99, 1),
      num(r.p999, 1), String(r.lost), String(r.duplicated), num(r.mtaCpuMsPerMessage, 2), num(r.mtaPeakRssMiB), num(r.mtaPeakPssMiB),
      r.ratioToBaseline === undefined ? '-' : `${r.ratioToBaseline.toFixed(2)}x`,
    ]),
  );
}

/** What a run prints: the line per case, a blank line, the summary. */
export function formatRun(cases: CaseResult[], summary: SummaryRow[], baseline?: string): string {
  const warm = cases.find((c) => (c.warmup ?? 0) > 0)?.warmup;
  const note = warm ? `\n(warm-up: ${warm} messages before each case, left out of the rates, latency and CPU; counted in lost and dup)` : '';
  return `${formatCases(cases)}\n\n${formatSummary(summary, baseline)}${note}`;
}

/** The machine a figure was taken on, for the JSON file. */
function machine(): Record<string, unknown> {
  const c = cpus();
  return { cpus: c.length, cpuModel: c[0]?.model, memoryMiB: Math.round(totalmem() / 1024 / 1024), node: process.version, kernel: release() };
}

/** Writes the whole run as JSON; `extra` adds sections (the per-role figures and the scaling model). */
export function writeJson(file: string, options: unknown, cases: CaseResult[], summary: SummaryRow[], extra: Record<string, unknown> = {}): void {
  const doc = { date: new Date().toISOString(), machine: machine(), options, cases, summary, ...extra };
  writeFileSync(file, JSON.stringify(doc, null, 2) + '\n');
}
