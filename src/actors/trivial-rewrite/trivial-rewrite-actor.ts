/**
 * trivial-rewrite actor: answers rewrite (canonical and virtual alias
 * expansion) and resolve (address class, transport, nexthop) for cleanup and
 * qmgr. Stateless apart from its caches, so a restart loses nothing.
 */
import { runActor } from '../../runtime/actor.js';
import { TrivialRewrite } from './trivial-rewrite.js';

runActor('trivial-rewrite', (ctx) => {
  const rewriter = new TrivialRewrite(ctx.config);
  return {
    rewrite: ({ address, role }) => rewriter.rewrite(address, role),
    rewriteHeader: ({ address, role, context }) => rewriter.rewriteHeader(address, role, context),
    resolve: ({ address }) => rewriter.resolve(address),
  };
});
