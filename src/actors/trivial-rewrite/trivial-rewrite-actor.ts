/**
 * trivial-rewrite actor: answers rewrite (canonical and virtual alias
 * expansion) and resolve (address class, transport, nexthop) for cleanup and
 * qmgr. Stateless apart from its caches, so a restart loses nothing.
 */
import { runActor } from '../../supervisor/actor.js';
import { TrivialRewrite } from './trivial-rewrite.js';
import type { TrivialRewriteProtocol } from '../../protocol/protocol.js';

runActor<TrivialRewriteProtocol>((ctx) => {
  const rewriter = new TrivialRewrite(ctx.config);
  return {
    rewrite: ({ address, role }) => rewriter.rewrite(address, role),
    resolve: ({ address }) => rewriter.resolve(address),
  };
});
