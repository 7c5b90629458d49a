/**
 * virtual actor: Postfix's virtual(8): delivery into Maildir mailboxes under
 * virtual_mailbox_base, as virtual_mailbox_maps names them.
 */
import { runActor } from '../../runtime/actor.js';
import { VirtualAgent } from './virtual-agent.js';
import { ContentReader } from '../../global/content-reader.js';

runActor('virtual', (ctx) => {
  const reader = new ContentReader(ctx.config.path('queue_directory'));
  const agent = new VirtualAgent({ config: ctx.config, log: ctx.log, readContent: (loc) => reader.read(loc) });
  ctx.onShutdown(() => reader.close());
  return { deliver: (req) => agent.deliver(req) };
});
