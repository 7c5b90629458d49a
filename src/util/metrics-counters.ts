/**
 * metrics-counters: this thread's own metrics, kept as plain numbers so the
 * hot path pays a map lookup and an add. count() bumps a counter, observe()
 * puts a value in a fixed-bucket histogram; snapshot() copies everything
 * into a plain object (msgpack-safe) that the actor runtime hands to the
 * supervisor, which sums the snapshots of every thread for a scrape.
 * mergeSnapshots() does that sum. Nothing here throws: a non-finite value
 * is ignored.
 *
 * A series is keyed by its labels as JSON (`{"transport":"smtp"}`), '' when
 * it has none; callers pass labels in the same key order every time, and
 * reuse label objects (label() makes them; their keys are cached) rather
 * than build a fresh one per event. setThreadLabels() adds labels every
 * series of some metrics of this thread carries (smtpd's `service`): they
 * join the keys in snapshot(), so the hot path does not pay for them.
 */
import { threadId } from 'node:worker_threads';

/** Label values by label name. */
export type MetricLabels = Readonly<Record<string, string>>;

/** One histogram series: counts per bucket (not cumulative; the last one is +Inf), sum and count. */
export interface HistogramSeries {
  counts: number[];
  sum: number;
  count: number;
}

/** What one thread has counted since it started. */
export interface MetricsSnapshot {
  /** The thread that counted (an actor incarnation); restarts show as a new id. */
  threadId: number;
  /** counter name -> label key -> value. */
  counters: Record<string, Record<string, number>>;
  /** histogram name -> its bucket upper bounds and its series by label key. */
  histograms: Record<string, { buckets: number[]; series: Record<string, HistogramSeries> }>;
}

/** Upper bounds of the buckets of each histogram Postrider observes; others get DEFAULT_BUCKETS. */
export const HISTOGRAM_BUCKETS: Readonly<Record<string, readonly number[]>> = {
  delivery_delay_seconds: [0.001, 0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400],
  delivery_latency_seconds: [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400],
  journal_batch_records: [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024],
  journal_fsync_seconds: [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1],
};

const DEFAULT_BUCKETS: readonly number[] = [0.001, 0.01, 0.1, 1, 10, 100];

const counters = new Map<string, Map<string, number>>();
const histograms = new Map<string, { buckets: readonly number[]; series: Map<string, HistogramSeries> }>();

// Callers mostly pass the same label objects again (constants, cached per
// transport): their keys are made once.
const keys = new WeakMap<MetricLabels, string>();

function labelKey(labels: MetricLabels | undefined): string {
  if (!labels) return '';
  let key = keys.get(labels);
  if (key === undefined) {
    key = JSON.stringify(labels);
    keys.set(labels, key);
  }
  return key;
}

const labelSets = new Map<string, MetricLabels>();

/**
 * The one label object for `name="value"`: cheap to count with, as its key
 * is made once. The set of values should be small (reasons, transports).
 */
export function label(name: string, value: string): MetricLabels {
  const k = `${name}\0${value}`;
  let l = labelSets.get(k);
  if (!l) {
    l = Object.freeze({ [name]: value });
    labelSets.set(k, l);
  }
  return l;
}

/** Adds n (default 1) to counter `name` for these labels. */
export function count(name: string, labels?: MetricLabels, n = 1): void {
  if (!Number.isFinite(n)) return;
  let series = counters.get(name);
  if (!series) {
    series = new Map();
    counters.set(name, series);
  }
  const key = labelKey(labels);
  series.set(key, (series.get(key) ?? 0) + n);
}

/** Records one value in histogram `name` for these labels. */
export function observe(name: string, value: number, labels?: MetricLabels): void {
  if (!Number.isFinite(value)) return;
  let h = histograms.get(name);
  if (!h) {
    h = { buckets: HISTOGRAM_BUCKETS[name] ?? DEFAULT_BUCKETS, series: new Map() };
    histograms.set(name, h);
  }
  const key = labelKey(labels);
  let s = h.series.get(key);
  if (!s) {
    s = { counts: new Array<number>(h.buckets.length + 1).fill(0), sum: 0, count: 0 };
    h.series.set(key, s);
  }
  const b = h.buckets;
  let i = 0;
  while (i < b.length && value > b[i]) i++;
  s.counts[i]++;
  s.sum += value;
  s.count++;
}

let threadLabels: { prefix: string; labels: MetricLabels } | undefined;

/** Every series of the metrics named `prefix...` in this thread gets these labels too (first in the key). */
export function setThreadLabels(prefix: string, labels: MetricLabels): void {
  threadLabels = { prefix, labels };
}

function withThreadLabels(name: string, key: string): string {
  if (!threadLabels || !name.startsWith(threadLabels.prefix)) return key;
  return JSON.stringify({ ...threadLabels.labels, ...(key === '' ? {} : (JSON.parse(key) as object)) });
}

/** A copy of everything this thread counted. */
export function snapshot(): MetricsSnapshot {
  const out: MetricsSnapshot = { threadId, counters: {}, histograms: {} };
  for (const [name, series] of counters) {
    const copy: Record<string, number> = {};
    for (const [key, v] of series) copy[withThreadLabels(name, key)] = v;
    out.counters[name] = copy;
  }
  for (const [name, h] of histograms) {
    const series: Record<string, HistogramSeries> = {};
    for (const [key, s] of h.series) series[withThreadLabels(name, key)] = { counts: [...s.counts], sum: s.sum, count: s.count };
    out.histograms[name] = { buckets: [...h.buckets], series };
  }
  return out;
}

/** Forgets everything counted in this thread (tests). */
export function resetCounters(): void {
  threadLabels = undefined;
  counters.clear();
  histograms.clear();
}

/**
 * Adds `add` into `into` (threadId of `into` kept). A histogram whose
 * buckets differ from what `into` holds (a thread running other code) is
 * skipped rather than summed wrongly.
 */
export function mergeSnapshots(into: MetricsSnapshot, add: MetricsSnapshot): MetricsSnapshot {
  for (const [name, series] of Object.entries(add.counters ?? {})) {
    const dst = (into.counters[name] ??= {});
    for (const [key, v] of Object.entries(series)) if (Number.isFinite(v)) dst[key] = (dst[key] ?? 0) + v;
  }
  for (const [name, h] of Object.entries(add.histograms ?? {})) {
    let dst = into.histograms[name];
    if (!dst) {
      dst = into.histograms[name] = { buckets: [...h.buckets], series: {} };
    } else if (dst.buckets.length !== h.buckets.length || dst.buckets.some((b, i) => b !== h.buckets[i])) {
      continue;
    }
    for (const [key, s] of Object.entries(h.series)) {
      const d = (dst.series[key] ??= { counts: new Array<number>(h.buckets.length + 1).fill(0), sum: 0, count: 0 });
      for (let i = 0; i < d.counts.length; i++) d.counts[i] += s.counts[i] ?? 0;
      d.sum += s.sum;
      d.count += s.count;
    }
  }
  return into;
}

/** An empty snapshot to merge into. */
export function emptySnapshot(): MetricsSnapshot {
  return { threadId: 0, counters: {}, histograms: {} };
}
