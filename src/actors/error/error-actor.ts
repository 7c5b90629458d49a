/**
 * error actor: Postfix's error(8) (bounce every recipient with the nexthop
 * text) and, for the "retry" transport, the deferring variant.
 */
import { runActor } from '../../runtime/actor.js';
import { ErrorAgent } from './error-agent.js';

runActor('error', (ctx) => {
  const agent = new ErrorAgent({ log: ctx.log, softBounce: ctx.config.bool('soft_bounce') });
  return { deliver: (req) => agent.deliver(req) };
});
