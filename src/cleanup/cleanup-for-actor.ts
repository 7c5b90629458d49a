/**
 * cleanup-for-actor: builds the inline Cleanup an actor uses on its way into
 * the queue, with address rewriting answered by the trivial-rewrite actor.
 */
import { Cleanup } from './cleanup.js';
import type { ActorContext } from '../runtime/actor.js';
import type { TrivialRewriteProtocol } from '../protocol/protocol.js';
import type { RoleName } from '../protocol/role-catalogue.js';
import { Logger } from '../util/log.js';
import { TtlCache } from '../util/ttl-cache.js';

/** Rewrite answers cached per thread: a round trip per address would cost more than cleanup itself. */
const CACHE_LIMIT = 10_000;
const CACHE_TTL_MS = 60_000;

type RewriteAnswer = TrivialRewriteProtocol['rewrite']['rep'];

/** The roles cleanup runs inside (the catalogue's inlineIn): each calls trivial-rewrite. */
type CleanupHost = Extract<RoleName, 'smtpd' | 'pickup' | 'bounce' | 'local'>;

export function cleanupForActor(ctx: ActorContext<CleanupHost>): Cleanup {
  const rewrite = ctx.peers('trivial-rewrite');
  // A new actor incarnation (reload) starts with an empty cache, so answers
  // never outlive the configuration that produced them by more than the TTL.
  const cache = new TtlCache<RewriteAnswer>(CACHE_LIMIT, CACHE_TTL_MS);
  const headerCache = new TtlCache<TrivialRewriteProtocol['rewriteHeader']['rep']>(CACHE_LIMIT, CACHE_TTL_MS);
  return new Cleanup({
    // The cleanup line's own -o values apply to cleanup, as to Postfix's cleanup daemon.
    config: ctx.inlineConfig('cleanup'),
    // The thread id, as every actor's own lines (see runtime/actor).
    log: new Logger('cleanup', ctx.threadId),
    instance: ctx.instance,
    // Errors are temporary (a table failure, a limit): never cached.
    rewrite: (address, role) =>
      cache.through(`${role}\0${address}`, () => rewrite.call('rewrite', { address, role }, { timeoutMs: 10_000 }), (a) => !a.error),
    rewriteHeader: (address, role, context) =>
      headerCache.through(`${role}\0${context}\0${address}`, () => rewrite.call('rewriteHeader', { address, role, context }, { timeoutMs: 10_000 }), (a) => !a.error),
  });
}
