/**
 * supervisor-salts: the queue-id salts of the live actor incarnations.
 * A queue id is the millisecond, a per-millisecond sequence and the salt of
 * the thread that made it (store-queue-id), so two threads holding one salt
 * can make the same id in the same millisecond; Postfix gets uniqueness from
 * the file system (an inode per queue file), Postrider from this one owner.
 * Every incarnation gets a salt no live incarnation holds, a restarted one
 * and the new generation of a reload included (the old one may still be
 * draining sessions), and gives it back when its thread has exited. Salts
 * are handed out round robin from a random start, so a freed salt comes back
 * only after every other one was used, and a daemon started again (the clock
 * moved on since its last ids) is unlikely to start where the last one was.
 * take() throws SupervisorError ERR_NO_SALT when every salt is held (3844
 * live threads), which no configuration comes near.
 */
import { randomInt } from 'node:crypto';
import { QUEUE_ID_SALTS } from '../store/store-queue-id.js';
import { SupervisorError } from './supervisor-error.js';

/** The salts held by live incarnations; take() one per incarnation, release() it at exit. */
export class SaltPool {
  private readonly held = new Set<number>();
  private next: number;

  /** `start`: the first salt to try (default random). */
  constructor(start: number = randomInt(QUEUE_ID_SALTS)) {
    this.next = ((start % QUEUE_ID_SALTS) + QUEUE_ID_SALTS) % QUEUE_ID_SALTS;
  }

  /** Salts held now. */
  get size(): number {
    return this.held.size;
  }

  /** True while some live incarnation holds `salt`. */
  holds(salt: number): boolean {
    return this.held.has(salt);
  }

  /** A salt no live incarnation holds, now held until release(). */
  take(): number {
    for (let i = 0; i < QUEUE_ID_SALTS; i++) {
      const salt = (this.next + i) % QUEUE_ID_SALTS;
      if (this.held.has(salt)) continue;
      this.held.add(salt);
      this.next = (salt + 1) % QUEUE_ID_SALTS;
      return salt;
    }
    throw new SupervisorError('ERR_NO_SALT', `every one of the ${QUEUE_ID_SALTS} queue id salts is held by a live actor`);
  }

  /** Gives a salt back once the thread that held it can make no more ids (it has exited). */
  release(salt: number): void {
    this.held.delete(salt);
  }
}
