/**
 * discard actor: Postfix's discard(8): reports every recipient delivered and
 * drops the message.
 */
import { runActor } from '../../runtime/actor.js';
import { DiscardAgent } from './discard-agent.js';

runActor('discard', (ctx) => {
  const agent = new DiscardAgent({ log: ctx.log });
  return { deliver: (req) => agent.deliver(req) };
});
