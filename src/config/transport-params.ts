/**
 * transport-params: Postfix's per-transport parameters
 * ("<transport>_destination_concurrency_limit" and kin), which fall back to
 * a global default when the transport-specific name is not set. Pure; never
 * throws (the caller's MainConfig getter throws on a malformed value).
 */
import type { MainConfig } from './main-config.js';

/** The per-transport suffixes and the global parameter each falls back to. */
export const TRANSPORT_FALLBACK = {
  destination_concurrency_limit: 'default_destination_concurrency_limit',
  destination_recipient_limit: 'default_destination_recipient_limit',
  initial_destination_concurrency: 'initial_destination_concurrency',
  destination_rate_delay: 'default_destination_rate_delay',
} as const;

export type TransportSuffix = keyof typeof TRANSPORT_FALLBACK;

/**
 * The parameter name to read for a transport: "relay_destination_recipient_limit"
 * when that is set (main.cf or -o), else the global default's name. Use with
 * the MainConfig getters: cfg.int(transportParameterName(cfg, 'smtp', 'destination_concurrency_limit')).
 */
export function transportParameterName(cfg: MainConfig, transport: string, suffix: TransportSuffix): string {
  const specific = `${transport}_${suffix}`;
  return cfg.has(specific) && cfg.get(specific).trim() !== '' ? specific : TRANSPORT_FALLBACK[suffix];
}
