/**
 * api-throughput: messages received, delivered, deferred and bounced per
 * second over the last hour, counted from the delivery log's events
 * (api-events), for the dashboard's graph. A ring of 3600 one-second
 * buckets per kind; a second with no event is a zero.
 */
import type { ApiEvent } from './api-events.js';

export const THROUGHPUT_KINDS = ['received', 'delivered', 'deferred', 'bounced'] as const;
type Kind = (typeof THROUGHPUT_KINDS)[number];
const SECONDS = 3600;

export class ThroughputHistory {
  private readonly rings = new Map<Kind, Uint32Array>(THROUGHPUT_KINDS.map((k) => [k, new Uint32Array(SECONDS)]));
  /** The second (since the epoch) the newest bucket holds. */
  private newest: number;

  constructor(private readonly now: () => number = Date.now) {
    this.newest = Math.floor(now() / 1000);
  }

  /** Counts one event at the time it is seen. */
  add(e: ApiEvent): void {
    const kind = e.type as Kind;
    const ring = this.rings.get(kind);
    if (!ring) return;
    this.advance();
    ring[this.newest % SECONDS]++;
  }

  /** The last hour, oldest second first: uPlot's columns. */
  series(): { start: number; step: 1; received: number[]; delivered: number[]; deferred: number[]; bounced: number[] } {
    this.advance();
    const start = this.newest - SECONDS + 1;
    const column = (k: Kind): number[] => {
      const ring = this.rings.get(k)!;
      const out = new Array<number>(SECONDS);
      for (let i = 0; i < SECONDS; i++) out[i] = ring[(start + i) % SECONDS];
      return out;
    };
    return { start, step: 1, received: column('received'), delivered: column('delivered'), deferred: column('deferred'), bounced: column('bounced') };
  }

  /** Zeroes the buckets of the seconds that passed since the newest. */
  private advance(): void {
    const sec = Math.floor(this.now() / 1000);
    if (sec <= this.newest) return;
    const gap = Math.min(sec - this.newest, SECONDS);
    for (let i = 1; i <= gap; i++) for (const ring of this.rings.values()) ring[(this.newest + i) % SECONDS] = 0;
    this.newest = sec;
  }
}
