/**
 * store-queue-id: Postfix-like queue ids, 12 characters of [0-9A-Za-z]:
 * 7 of milliseconds since the epoch, 3 of a per-millisecond sequence, 2 of
 * the generating thread's salt. Base62 in ASCII order, so lexicographic order
 * is arrival order (to the millisecond). Ids are unique across threads as
 * long as no two live threads hold one salt (the supervisor hands each
 * actor incarnation its own: supervisor-salts), and across restarts because
 * time only moves forward within a generator and a restart takes longer than
 * a millisecond; the store refuses a duplicate all the same
 * (ERR_STORE_DUPLICATE_ID), for a clock set back across a restart. Never
 * throws for a valid salt.
 */

const DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const SEQ_MAX = 62 ** 3;
/** How many salts there are (two base62 digits): 0 .. QUEUE_ID_SALTS - 1. */
export const QUEUE_ID_SALTS = 62 * 62;

const CODES = Array.from(DIGITS, (c) => c.charCodeAt(0));

/** Makes queue ids for one thread; `threadSalt` (0 .. QUEUE_ID_SALTS - 1) is the salt only that thread holds (ActorContext.idSalt). */
export class QueueIdGenerator {
  private readonly salt0: number;
  private readonly salt1: number;
  private lastMs = 0;
  private seq = 0;
  /** Character codes of lastMs in base62, remade only when the millisecond changes. */
  private readonly time = new Array<number>(7).fill(CODES[0]);

  constructor(threadSalt: number) {
    if (!Number.isInteger(threadSalt) || threadSalt < 0 || threadSalt >= QUEUE_ID_SALTS) {
      throw new RangeError(`queue id salt out of range: ${threadSalt}`);
    }
    this.salt0 = CODES[Math.floor(threadSalt / 62)];
    this.salt1 = CODES[threadSalt % 62];
  }

  /** The next id; `nowMs` defaults to the clock. A clock that steps back is ignored. */
  next(nowMs: number = Date.now()): string {
    if (nowMs > this.lastMs) {
      this.setTime(nowMs);
      this.seq = 0;
    } else if (++this.seq >= SEQ_MAX) {
      // More than 238k ids in one millisecond: borrow the next millisecond.
      this.setTime(this.lastMs + 1);
      this.seq = 0;
    }
    const t = this.time;
    const q = this.seq;
    // One string made per id (cleanup makes one per message), not a chain of concatenations.
    return String.fromCharCode(t[0], t[1], t[2], t[3], t[4], t[5], t[6],
      CODES[Math.floor(q / 3844)], CODES[Math.floor(q / 62) % 62], CODES[q % 62], this.salt0, this.salt1);
  }

  private setTime(ms: number): void {
    this.lastMs = ms;
    let n = ms;
    for (let i = 6; i >= 0; i--) {
      this.time[i] = CODES[n % 62];
      n = Math.floor(n / 62);
    }
  }
}

/** The arrival time encoded in a queue id (ms), or NaN when it is not one. */
export function queueIdTime(queueId: string): number {
  if (!/^[0-9A-Za-z]{12}$/.test(queueId)) return NaN;
  let n = 0;
  for (let i = 0; i < 7; i++) n = n * 62 + DIGITS.indexOf(queueId[i]);
  return n;
}
