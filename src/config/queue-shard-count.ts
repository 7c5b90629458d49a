/**
 * queue-shard-count: how many queue shards the configuration asks for
 * (queue_shard_count, Postrider's own). Each shard is a journal writer with
 * its own segments and a qmgr scheduling its messages, so one thread of
 * either role never caps the host: a single journal or qmgr thread tops out
 * near 1000 / (its CPU-ms per message) messages a second whatever the cores.
 * `-` (the default) is one shard per four cores, one at least: at the
 * measured costs the journal and qmgr take about a third of a message's
 * CPU, so a shard per four cores keeps each shard's threads below
 * saturation when every core is busy. The shards found on disk can only add
 * to this (supervisor), never orphan a shard.
 *
 * queueShardCount throws ConfigError naming the parameter for a value that
 * is not `-` or an integer in 1 .. MAX_SHARDS.
 */
import { ConfigError } from './main-config.js';

/** The most queue shards (the store's MAX_SHARDS: three-digit shard directory names). */
export const MAX_SHARDS = 256;

/** Cores per queue shard when queue_shard_count is `-`. */
export const CORES_PER_SHARD = 4;

/** The shard count `value` (queue_shard_count's text) asks for on a host with `cores` cores. */
export function queueShardCount(value: string | undefined, cores: number): number {
  const v = (value ?? '-').trim();
  if (v === '-' || v === '') return Math.max(1, Math.ceil(cores / CORES_PER_SHARD));
  if (!/^\d+$/.test(v) || Number(v) < 1 || Number(v) > MAX_SHARDS) {
    throw new ConfigError(`queue_shard_count = ${v}: expected - or a number of shards from 1 to ${MAX_SHARDS}`);
  }
  return Number(v);
}
