/**
 * error actor: Postfix's error(8) (bounce every recipient with the nexthop
 * text) and, for the "retry" transport, the deferring variant.
 */
import { runActor } from '../../supervisor/actor.js';
import { ErrorAgent } from './error-agent.js';
import type { DeliveryProtocol } from '../../protocol/protocol.js';

runActor<DeliveryProtocol>((ctx) => {
  const agent = new ErrorAgent({ log: ctx.log, softBounce: ctx.config.bool('soft_bounce') });
  return { deliver: (req) => agent.deliver(req) };
});
