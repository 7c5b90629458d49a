/**
 * metrics-registry: turns a MetricsView into Prometheus text with
 * prom-client. Counters and gauges are prom-client metrics whose collect()
 * callbacks copy the current view in; histograms, already bucketed by the
 * threads that observed them, are registered as small custom metrics that
 * hand prom-client their cumulative buckets. A counter or histogram a
 * thread reports that is not listed here is still exported, under
 * postrider_NAME(_total). prom-client's default process metrics
 * (process_*, nodejs_*) come along. render() never throws for odd input: a series
 * whose label key cannot be read is dropped.
 */
import { collectDefaultMetrics, Counter, Gauge, Registry, type Metric } from 'prom-client';
import type { HistogramSeries, MetricsSnapshot } from '../util/metrics-counters.js';
import type { MetricsView } from './metrics-collect.js';

const PREFIX = 'postrider_';

interface CounterDef {
  help: string;
  labels: string[];
}

/** Counters the threads keep (internal name -> exported help and labels). */
const COUNTERS: Record<string, CounterDef> = {
  messages_received: { help: 'Messages the journal made durable, by source (smtpd, pickup, bounce).', labels: ['source'] },
  recipients_delivered: { help: 'Recipients delivered, by transport.', labels: ['transport'] },
  recipients_deferred: { help: 'Recipient delivery attempts deferred, by transport.', labels: ['transport'] },
  recipients_bounced: { help: 'Recipients bounced (hard failures), by transport.', labels: ['transport'] },
  recipients_expired: { help: 'Deferred recipients returned after maximal_queue_lifetime.', labels: [] },
  smtpd_rejected: { help: 'SMTP commands and messages smtpd refused, by service and reason.', labels: ['service', 'reason'] },
  smtpd_connections: { help: 'SMTP connections smtpd accepted, by service.', labels: ['service'] },
  smtpd_connections_refused: {
    help: 'SMTP connections smtpd refused at a limit, by service and reason (connection_limit, connection_rate, session_limit, descriptor_limit).',
    labels: ['service', 'reason'],
  },
  smtpd_tls_handshakes: { help: 'TLS handshakes smtpd completed (STARTTLS or wrapper mode), by service and protocol version.', labels: ['service', 'version'] },
  smtpd_sasl_authentications: { help: 'SASL authentications by smtpd, by service and result (success, failure).', labels: ['service', 'result'] },
};

/** Histograms the threads keep. */
const HISTOGRAMS: Record<string, string> = {
  delivery_delay_seconds:
    "Seconds of each part of a delivery line's delays=a/b/c/d, per recipient attempt, by transport and stage (before_qmgr, in_qmgr, connection_setup, transmission).",
  delivery_latency_seconds: 'Seconds from arrival to delivery, per delivered recipient, by transport.',
  journal_batch_records: 'Records made durable per journal flush (group commit batch size).',
  journal_fsync_seconds: 'Seconds one journal fdatasync took.',
};

function parseLabels(key: string): Record<string, string> | undefined {
  if (key === '') return {};
  try {
    const v = JSON.parse(key) as unknown;
    if (!v || typeof v !== 'object' || Array.isArray(v)) return undefined;
    const out: Record<string, string> = {};
    for (const [k, x] of Object.entries(v)) {
      if (!/^[a-zA-Z_][a-zA-Z0-9_]*$/.test(k) || k.startsWith('__')) return undefined;
      out[k] = String(x);
    }
    return out;
  } catch {
    return undefined;
  }
}

type Values = Array<{ value: number; labels: Record<string, string | number>; metricName?: string }>;

/** A metric prom-client's Registry can print, whose values come from a function. */
function customMetric(name: string, help: string, type: 'counter' | 'histogram', values: () => Values): Metric {
  const m = {
    name,
    help,
    type,
    aggregator: 'sum',
    get: async () => ({ name, help, type, aggregator: 'sum', values: values() }),
    reset: () => undefined,
  };
  return m as unknown as Metric;
}

function histogramValues(name: string, h: { buckets: number[]; series: Record<string, HistogramSeries> } | undefined): Values {
  const out: Values = [];
  if (!h) return out;
  for (const [key, s] of Object.entries(h.series)) {
    const labels = parseLabels(key);
    if (!labels) continue;
    let acc = 0;
    for (let i = 0; i < h.buckets.length; i++) {
      acc += s.counts[i] ?? 0;
      out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: h.buckets[i] }, value: acc });
    }
    out.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: s.count });
    out.push({ metricName: `${name}_sum`, labels, value: s.sum });
    out.push({ metricName: `${name}_count`, labels, value: s.count });
  }
  return out;
}

const QUEUE_STATES = ['incoming', 'active', 'deferred', 'hold', 'corrupt'] as const;

/**
 * A gauge read from the view at scrape time: one unlabelled value, or (with
 * `labelName`) one series per key of a record. Nothing when read() gives undefined.
 */
function viewGauge(
  registers: Registry[],
  name: string,
  help: string,
  labelName: string | undefined,
  read: () => number | Record<string, number> | undefined,
): void {
  new Gauge({
    name: `${PREFIX}${name}`,
    help,
    labelNames: labelName ? [labelName] : [],
    registers,
    collect() {
      this.reset();
      const v = read();
      if (typeof v === 'number') this.set(v);
      else if (v && labelName) for (const [key, n] of Object.entries(v)) this.set({ [labelName]: key }, n);
    },
  });
}

/** The exported metrics; feed it a view, then read the text. */
export class MetricsRegistry {
  readonly registry = new Registry();
  private view: MetricsView | undefined;
  private readonly extras = new Set<string>();

  constructor() {
    const reg = [this.registry];
    // The process's own figures (CPU, memory, descriptors, event-loop lag, GC) under prom-client's standard names.
    collectDefaultMetrics({ register: this.registry });
    const totals = (): MetricsSnapshot | undefined => this.view?.totals;

    for (const [name, def] of Object.entries(COUNTERS)) {
      new Counter({
        name: `${PREFIX}${name}_total`,
        help: def.help,
        labelNames: def.labels,
        registers: reg,
        collect() {
          this.reset();
          for (const [key, v] of Object.entries(totals()?.counters[name] ?? {})) {
            const labels = parseLabels(key);
            if (labels && v >= 0) this.inc(labels, v);
          }
        },
      });
    }
    for (const [name, help] of Object.entries(HISTOGRAMS)) {
      const full = `${PREFIX}${name}`;
      this.registry.registerMetric(customMetric(full, help, 'histogram', () => histogramValues(full, totals()?.histograms[name])));
    }

    const view = (): MetricsView | undefined => this.view;
    viewGauge(reg, 'queue_messages', 'Messages in the queue, by state (incoming, active, deferred, hold, corrupt).', 'state', () => {
      const q = view()?.queue;
      return q && Object.fromEntries(QUEUE_STATES.map((state) => [state, q[state] ?? 0]));
    });
    viewGauge(reg, 'queue_oldest_message_age_seconds', 'Age of the oldest message in the queue (0 when it is empty).', undefined, () => view()?.oldestAgeSeconds);
    viewGauge(reg, 'destination_active_deliveries', 'Deliveries in progress (connections in use) per nexthop.', 'nexthop', () => view()?.destinations);
    viewGauge(reg, 'qmgr_active_messages', "Messages in qmgr's active queue.", undefined, () => view()?.qmgrActive);
    new Counter({
      name: `${PREFIX}actor_restarts_total`,
      help: 'Actor restarts by the supervisor after a crash or hang, by role.',
      labelNames: ['role'],
      registers: reg,
      collect() {
        this.reset();
        for (const [role, n] of Object.entries(view()?.restarts ?? {})) this.inc({ role }, n);
      },
    });
    viewGauge(reg, 'actors_running', 'Actor instances running, by role.', 'role', () => view()?.running);
    viewGauge(reg, 'scrape_errors', 'Actor calls that failed or timed out during this scrape.', undefined, () => view()?.errors ?? 0);
  }

  /** Prometheus text for this view. */
  async render(view: MetricsView): Promise<string> {
    this.view = view;
    this.addExtras(view.totals);
    try {
      return await this.registry.metrics();
    } finally {
      this.view = undefined;
    }
  }

  /** Content-Type of render()'s text. */
  get contentType(): string {
    return this.registry.contentType;
  }

  /** Registers an extra metric; one whose name is taken is left out. */
  private register(m: Metric): void {
    try {
      this.registry.registerMetric(m);
    } catch {
      // a name clash with a listed metric: the listed one wins
    }
  }

  /** Metrics some thread counts that this file does not list: exported under generic names. */
  private addExtras(totals: MetricsSnapshot): void {
    const current = (): MetricsSnapshot | undefined => this.view?.totals;
    for (const name of Object.keys(totals.counters)) {
      if (COUNTERS[name] || this.extras.has(`c:${name}`) || !/^[a-z][a-z0-9_]*$/.test(name)) continue;
      this.extras.add(`c:${name}`);
      const full = `${PREFIX}${name}_total`;
      this.register(
        customMetric(full, `${name} (counted by the actors)`, 'counter', () => {
          const out: Values = [];
          for (const [key, value] of Object.entries(current()?.counters[name] ?? {})) {
            const labels = parseLabels(key);
            if (labels) out.push({ labels, value });
          }
          return out;
        }),
      );
    }
    for (const name of Object.keys(totals.histograms)) {
      if (HISTOGRAMS[name] || this.extras.has(`h:${name}`) || !/^[a-z][a-z0-9_]*$/.test(name)) continue;
      this.extras.add(`h:${name}`);
      const full = `${PREFIX}${name}`;
      this.register(customMetric(full, `${name} (observed by the actors)`, 'histogram', () => histogramValues(full, current()?.histograms[name])));
    }
  }
}
