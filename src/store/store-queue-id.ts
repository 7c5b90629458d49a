/**
 * store-queue-id: Postfix-like queue ids, 12 characters of [0-9A-Za-z]:
 * 7 of milliseconds since the epoch, 3 of a per-millisecond sequence, 2 of
 * the generating thread's salt. Base62 in ASCII order, so lexicographic order
 * is arrival order (to the millisecond). Ids are unique across threads (the
 * salt) and across restarts (time only moves forward within a generator, and
 * a restart takes longer than a millisecond). Never throws for a valid salt.
 */

const DIGITS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
const SEQ_MAX = 62 ** 3;

function base62(n: number, width: number): string {
  let s = '';
  for (let i = 0; i < width; i++) {
    s = DIGITS[n % 62] + s;
    n = Math.floor(n / 62);
  }
  return s;
}

/** Makes queue ids for one thread; `threadSalt` is the thread's instance number, 0..63. */
export class QueueIdGenerator {
  private readonly salt: string;
  private lastMs = 0;
  private seq = 0;

  constructor(threadSalt: number) {
    if (!Number.isInteger(threadSalt) || threadSalt < 0 || threadSalt >= 62 * 62) {
      throw new RangeError(`queue id salt out of range: ${threadSalt}`);
    }
    this.salt = base62(threadSalt, 2);
  }

  /** The next id; `nowMs` defaults to the clock. A clock that steps back is ignored. */
  next(nowMs: number = Date.now()): string {
    if (nowMs > this.lastMs) {
      this.lastMs = nowMs;
      this.seq = 0;
    } else if (++this.seq >= SEQ_MAX) {
      // More than 238k ids in one millisecond: borrow the next millisecond.
      this.lastMs++;
      this.seq = 0;
    }
    return base62(this.lastMs, 7) + base62(this.seq, 3) + this.salt;
  }
}

/** The arrival time encoded in a queue id (ms), or NaN when it is not one. */
export function queueIdTime(queueId: string): number {
  if (!/^[0-9A-Za-z]{12}$/.test(queueId)) return NaN;
  let n = 0;
  for (let i = 0; i < 7; i++) n = n * 62 + DIGITS.indexOf(queueId[i]);
  return n;
}
