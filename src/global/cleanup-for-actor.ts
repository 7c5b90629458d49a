/**
 * cleanup-for-actor: builds the inline Cleanup an actor uses on its way into
 * the queue, with address rewriting answered by the trivial-rewrite actor.
 */
import { Cleanup } from '../actors/cleanup/cleanup.js';
import type { ActorContext } from '../supervisor/actor.js';
import type { TrivialRewriteProtocol } from '../protocol/protocol.js';
import { Logger } from '../util/log.js';

/** Cached rewrite answers per thread: a round trip per address would cost more than cleanup itself. */
const CACHE_LIMIT = 10_000;
const CACHE_TTL_MS = 60_000;

type RewriteAnswer = TrivialRewriteProtocol['rewrite']['rep'];

export function cleanupForActor(ctx: ActorContext): Cleanup {
  const rewrite = ctx.peers<TrivialRewriteProtocol>('trivial-rewrite');
  // A new actor incarnation (reload) starts with an empty cache, so answers
  // never outlive the configuration that produced them by more than the TTL.
  const cache = new Map<string, { at: number; answer: RewriteAnswer }>();
  const cachedRewrite = async (address: string, role: 'sender' | 'recipient'): Promise<RewriteAnswer> => {
    const key = `${role}\0${address}`;
    const now = Date.now();
    const hit = cache.get(key);
    if (hit && now - hit.at < CACHE_TTL_MS) return hit.answer;
    const answer = await rewrite.call('rewrite', { address, role }, { timeoutMs: 10_000 });
    // Errors are temporary (a table failure, a limit): never cache them.
    if (!answer.error) {
      if (cache.size >= CACHE_LIMIT) cache.delete(cache.keys().next().value as string);
      cache.set(key, { at: now, answer });
    }
    return answer;
  };
  return new Cleanup({
    config: ctx.config,
    log: new Logger('cleanup', ctx.instance),
    instance: ctx.instance,
    rewrite: cachedRewrite,
  });
}
