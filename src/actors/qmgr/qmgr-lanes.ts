/**
 * qmgr-lanes: which delivery-agent thread of a transport takes a delivery
 * to one destination.
 *
 * A destination's concurrency limit L is split into one lane per agent
 * thread of the transport (n lanes). Counted from the destination's first
 * lane, which it hashes to, the k-th lane may hold at most
 * floor(L / n) + (k < L mod n ? 1 : 0) deliveries at once, so the shares
 * sum to L and a destination limited to one delivery still gets its own
 * thread, not the first one every such destination would share. Each agent
 * keeps its own cache of idle sessions per next hop and opens a session
 * only when it has no idle one, so the sessions one agent holds to a
 * destination never exceed the most deliveries its lane held at once: the
 * sessions the next hop sees stay within L for the host, however many
 * agents deliver there, as Postfix's shared connection cache keeps them.
 *
 * Lanes fill in that order (the first is the agent its deliveries went to
 * when one agent took them all): a destination with few deliveries in
 * flight keeps to one agent, whose cached sessions it reuses; one with more
 * than an agent's share spills onto the next agents, so a single busy
 * destination (a relayhost) is delivered by up to min(L, n) threads instead
 * of capping at one.
 */

/** The most deliveries the k-th lane from a destination's first may hold, of `lanes`, for a limit of `limit`. */
export function laneQuota(limit: number, lanes: number, k: number): number {
  return Math.floor(limit / lanes) + (k < limit % lanes ? 1 : 0);
}

/**
 * The lane a new delivery takes: counting from `start` round, the first
 * below its share; -1 when every lane is full. `busy(lane)` is what the
 * lane holds now.
 */
export function pickLane(limit: number, lanes: number, start: number, busy: (lane: number) => number): number {
  for (let k = 0; k < lanes; k++) {
    const lane = (start + k) % lanes;
    if (busy(lane) < laneQuota(limit, lanes, k)) return lane;
  }
  return -1;
}
