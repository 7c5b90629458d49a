/**
 * store-index: the in-memory index of live messages (no contents, only
 * locations), in queue-id order for listing, with counts by queue state.
 * Pure data structure; never throws.
 */
import type { QueueCounts, QueuedMessage } from './store-types.js';

/** Live messages by queue id, with a lazily sorted id list for paging. */
export class QueueIndex {
  readonly byId = new Map<string, QueuedMessage>();
  /** Ids in order, possibly holding ids that are gone (skipped and swept lazily). */
  private order: string[] = [];
  private sorted = true;
  private stale = 0;

  get size(): number {
    return this.byId.size;
  }

  get(queueId: string): QueuedMessage | undefined {
    return this.byId.get(queueId);
  }

  /** Adds or replaces a message (a compaction copy replaces the original). */
  put(q: QueuedMessage): void {
    if (!this.byId.has(q.queueId)) {
      const last = this.order.length > 0 ? this.order[this.order.length - 1] : undefined;
      if (last !== undefined && q.queueId <= last) this.sorted = false;
      this.order.push(q.queueId);
    }
    this.byId.set(q.queueId, q);
  }

  /** Moves a message's content location (after a compaction copy). */
  relocate(q: QueuedMessage, location: QueuedMessage['location']): void {
    q.location = location;
  }

  remove(queueId: string): QueuedMessage | undefined {
    const q = this.byId.get(queueId);
    if (!q) return undefined;
    this.byId.delete(queueId);
    // The id may come back (a replayed copy); the sweep drops duplicates.
    if (++this.stale > 1024 && this.stale > this.byId.size) this.sweep();
    return q;
  }

  private sweep(): void {
    const seen = new Set<string>();
    this.order = this.order.filter((id) => {
      if (!this.byId.has(id) || seen.has(id)) return false;
      seen.add(id);
      return true;
    });
    this.stale = 0;
  }

  private ensureSorted(): void {
    if (this.stale > 0 || !this.sorted) {
      this.sweep();
      this.order.sort();
      this.sorted = true;
    }
  }

  /** A page of live messages in queue-id order, after `after` (exclusive). */
  list(after: string | undefined, limit: number): { messages: QueuedMessage[]; next?: string } {
    this.ensureSorted();
    let lo = 0;
    if (after !== undefined) {
      let hi = this.order.length;
      while (lo < hi) {
        const mid = (lo + hi) >>> 1;
        if (this.order[mid] <= after) lo = mid + 1;
        else hi = mid;
      }
    }
    const messages: QueuedMessage[] = [];
    const max = Math.max(0, Math.floor(limit));
    let i = lo;
    for (; i < this.order.length && messages.length < max; i++) {
      const q = this.byId.get(this.order[i]);
      if (q) messages.push(q);
    }
    const page: { messages: QueuedMessage[]; next?: string } = { messages };
    if (i < this.order.length && messages.length > 0) page.next = messages[messages.length - 1].queueId;
    return page;
  }

  /** Counts by Postfix queue state; `corrupt` is filled in by the caller. */
  counts(corrupt: number): QueueCounts {
    let active = 0;
    let deferred = 0;
    let hold = 0;
    for (const q of this.byId.values()) {
      if (q.hold) {
        hold++;
        continue;
      }
      let ready = false;
      for (const r of q.recipients) {
        if (r.state === 'ready') {
          ready = true;
          break;
        }
      }
      if (ready) active++;
      else deferred++;
    }
    return { incoming: 0, active, deferred, hold, corrupt, total: this.byId.size };
  }
}
