/**
 * cleanup-for-actor: builds the inline Cleanup an actor uses on its way into
 * the queue, with address rewriting answered by the trivial-rewrite actor.
 */
import { Cleanup } from '../actors/cleanup/cleanup.js';
import type { ActorContext } from '../supervisor/actor.js';
import type { TrivialRewriteProtocol } from '../protocol/protocol.js';
import { Logger } from '../util/log.js';

export function cleanupForActor(ctx: ActorContext): Cleanup {
  const rewrite = ctx.peers<TrivialRewriteProtocol>('trivial-rewrite');
  return new Cleanup({
    config: ctx.config,
    log: new Logger('cleanup', ctx.instance),
    instance: ctx.instance,
    rewrite: (address, role) => rewrite.call('rewrite', { address, role }, { timeoutMs: 10_000 }),
  });
}
