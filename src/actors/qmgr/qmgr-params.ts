/**
 * qmgr-params: the queue manager's main.cf parameters, read once with
 * Postfix's names and defaults, in milliseconds and counts. Per-transport
 * overrides (`<transport>_destination_concurrency_limit`,
 * `<transport>_destination_recipient_limit`, `<transport>_process_limit`)
 * are read lazily and cached.
 * Errors: readQmgrParams throws ConfigError (code ERR_CONFIG) naming the
 * parameter when a global value is malformed; a malformed per-transport
 * override is logged once and the global default is used instead.
 */
import { ConfigError, type MainConfig } from '../../config/main-config.js';
import type { Logger } from '../../util/log.js';

/** Postfix's defaults for the parameters the scheduler reads. */
export const QMGR_DEFAULTS: Readonly<Record<string, string>> = {
  minimal_backoff_time: '300s',
  maximal_backoff_time: '4000s',
  queue_run_delay: '300s',
  maximal_queue_lifetime: '5d',
  bounce_queue_lifetime: '5d',
  delay_warning_time: '0h',
  initial_destination_concurrency: '5',
  default_destination_concurrency_limit: '20',
  default_destination_recipient_limit: '50',
  default_process_limit: '100',
  destination_concurrency_failed_cohort_limit: '1',
  qmgr_message_active_limit: '20000',
};

/** Global scheduler parameters; times in milliseconds. */
export interface QmgrParams {
  minimalBackoffMs: number;
  maximalBackoffMs: number;
  queueRunDelayMs: number;
  maximalQueueLifetimeMs: number;
  bounceQueueLifetimeMs: number;
  /** 0 = no delay warnings (Postfix's default). */
  delayWarningMs: number;
  initialConcurrency: number;
  failedCohortLimit: number;
  messageActiveLimit: number;
}

function raw(config: MainConfig, name: string): MainConfig {
  // A record without the parameter falls back to Postfix's default, so a
  // partial main.cf (or a test's) still gives a working scheduler.
  if (config.has(name) && config.get(name).trim() !== '') return config;
  return config.with({ [name]: QMGR_DEFAULTS[name] ?? '' });
}

function timeMs(config: MainConfig, name: string, unit: string): number {
  return Math.round(raw(config, name).time(name, unit) * 1000);
}

function count(config: MainConfig, name: string, min: number): number {
  const n = raw(config, name).int(name);
  if (n < min) throw new ConfigError(`${name} = ${n}: must be at least ${min}`);
  return n;
}

/** Reads the global parameters; throws ConfigError on a malformed value. */
export function readQmgrParams(config: MainConfig): QmgrParams {
  return {
    minimalBackoffMs: timeMs(config, 'minimal_backoff_time', 's'),
    maximalBackoffMs: timeMs(config, 'maximal_backoff_time', 's'),
    queueRunDelayMs: Math.max(1, timeMs(config, 'queue_run_delay', 's')),
    maximalQueueLifetimeMs: timeMs(config, 'maximal_queue_lifetime', 'd'),
    bounceQueueLifetimeMs: timeMs(config, 'bounce_queue_lifetime', 'd'),
    delayWarningMs: timeMs(config, 'delay_warning_time', 'h'),
    initialConcurrency: count(config, 'initial_destination_concurrency', 1),
    failedCohortLimit: count(config, 'destination_concurrency_failed_cohort_limit', 1),
    messageActiveLimit: count(config, 'qmgr_message_active_limit', 1),
  };
}

/** Limits of one transport, after its overrides. 0 in main.cf means "no limit". */
export interface TransportLimits {
  /** Most concurrent deliveries to one destination of this transport. */
  destinationConcurrency: number;
  /** Most recipients per delivery request. */
  recipientLimit: number;
  /** Most concurrent deliveries over all destinations of this transport. */
  processLimit: number;
}

/** Per-transport limits, read on first use and cached. */
export class TransportLimitTable {
  private readonly cache = new Map<string, TransportLimits>();

  constructor(
    private readonly config: MainConfig,
    private readonly log: Logger,
  ) {}

  get(transport: string): TransportLimits {
    let limits = this.cache.get(transport);
    if (!limits) {
      limits = {
        destinationConcurrency: this.read(transport, 'destination_concurrency_limit', 'default_destination_concurrency_limit'),
        recipientLimit: this.read(transport, 'destination_recipient_limit', 'default_destination_recipient_limit'),
        processLimit: this.read(transport, 'process_limit', 'default_process_limit'),
      };
      this.cache.set(transport, limits);
    }
    return limits;
  }

  private read(transport: string, suffix: string, fallback: string): number {
    const name = `${transport}_${suffix}`;
    let n: number;
    try {
      n = this.config.has(name) && this.config.get(name).trim() !== '' ? this.config.int(name) : raw(this.config, fallback).int(fallback);
    } catch (err) {
      this.log.warning(`${(err as Error).message}; using ${fallback}`);
      n = raw(this.config.with({ [fallback]: QMGR_DEFAULTS[fallback] }), fallback).int(fallback);
    }
    return n <= 0 ? Number.POSITIVE_INFINITY : n;
  }
}
