/**
 * smtp actor: Postfix's smtp(8) delivery agent. Delivers one request at a
 * time per destination (qmgr decides the concurrency) and reads the content
 * from the journal by location. Its connection cache lives in this thread;
 * qmgr routes a destination to the same instance so connections get reused.
 */
import { runActor } from '../../supervisor/actor.js';
import { SmtpAgent } from './smtp-agent.js';
import { readContent } from '../../store/queue-store.js';
import type { DeliveryProtocol } from '../../protocol/protocol.js';

runActor<DeliveryProtocol>((ctx) => {
  const queueDir = ctx.config.path('queue_directory');
  const agent = new SmtpAgent({ config: ctx.config, log: ctx.log, readContent: (loc) => readContent(queueDir, loc) });
  ctx.onShutdown(() => agent.close());
  return { deliver: (req) => agent.deliver(req) };
});
