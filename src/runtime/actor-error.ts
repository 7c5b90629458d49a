/**
 * actor-error: the one error class of actor calls. `code` says what failed;
 * `retryable` says whether the same call may succeed later (a peer died or
 * is being replaced, a timeout), as Postfix's senders back off and retry.
 */

export type ActorCallErrorCode = 'ERR_PEER_DOWN' | 'ERR_CALL_TIMEOUT' | 'ERR_NO_PEER' | 'ERR_REMOTE';

/** A failed call(): peer down, timed out, no live instance, or the handler threw. */
export class ActorCallError extends Error {
  constructor(
    message: string,
    readonly code: ActorCallErrorCode,
    readonly retryable: boolean,
    /** For ERR_REMOTE: the `code` of the error the remote handler threw, if any. */
    readonly remoteCode?: string,
  ) {
    super(message);
    this.name = 'ActorCallError';
  }
}
