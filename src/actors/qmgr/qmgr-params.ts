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
import { withParameterDefaults } from '../../config/parameter-defaults.js';
import type { Logger } from '../../util/log.js';

/**
 * The parameters the scheduler reads; their defaults come from the parameter
 * table. The per-transport ones Postfix names for its stock transports
 * (smtp_, relay_, local_) are among them: `<transport>_destination_concurrency_limit`
 * and kin are read for every transport (TransportLimitTable).
 */
const QMGR_PARAMETERS = [
  'minimal_backoff_time', 'maximal_backoff_time', 'queue_run_delay', 'maximal_queue_lifetime', 'bounce_queue_lifetime',
  'delay_warning_time', 'initial_destination_concurrency', 'default_destination_concurrency_limit',
  'default_destination_recipient_limit', 'default_process_limit', 'qmgr_message_active_limit',
  'default_destination_concurrency_failed_cohort_limit', 'smtp_destination_concurrency_limit', 'relay_destination_concurrency_limit',
  'smtp_destination_recipient_limit', 'local_destination_concurrency_limit', 'local_destination_recipient_limit',
] as const;

/**
 * `config` with Postfix's default for every scheduler parameter it lacks or
 * leaves empty, so a partial main.cf (or a test's) still gives a working scheduler.
 */
function withDefaults(config: MainConfig): MainConfig {
  return withParameterDefaults(config, QMGR_PARAMETERS);
}

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

function timeMs(config: MainConfig, name: string, unit: string): number {
  return Math.round(config.time(name, unit) * 1000);
}

function count(config: MainConfig, name: string, min: number): number {
  const n = config.int(name);
  if (n < min) throw new ConfigError(`${name} = ${n}: must be at least ${min}`);
  return n;
}

/** Reads the global parameters; throws ConfigError on a malformed value. */
export function readQmgrParams(input: MainConfig): QmgrParams {
  const config = withDefaults(input);
  return {
    minimalBackoffMs: timeMs(config, 'minimal_backoff_time', 's'),
    maximalBackoffMs: timeMs(config, 'maximal_backoff_time', 's'),
    queueRunDelayMs: Math.max(1, timeMs(config, 'queue_run_delay', 's')),
    maximalQueueLifetimeMs: timeMs(config, 'maximal_queue_lifetime', 'd'),
    bounceQueueLifetimeMs: timeMs(config, 'bounce_queue_lifetime', 'd'),
    delayWarningMs: timeMs(config, 'delay_warning_time', 'h'),
    initialConcurrency: count(config, 'initial_destination_concurrency', 1),
    failedCohortLimit: count(config, 'default_destination_concurrency_failed_cohort_limit', 1),
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
  private readonly config: MainConfig;

  constructor(
    config: MainConfig,
    private readonly log: Logger,
  ) {
    this.config = withDefaults(config);
  }

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
      n = this.config.get(name).trim() !== '' ? this.config.int(name) : this.config.int(fallback);
    } catch (err) {
      this.log.warning(`${(err as Error).message}; using ${fallback}`);
      // Even the global value may be the malformed one: Postfix's default then.
      n = withParameterDefaults(this.config.with({ [fallback]: '' }), [fallback]).int(fallback);
    }
    return n <= 0 ? Number.POSITIVE_INFINITY : n;
  }
}
