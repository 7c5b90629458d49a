/**
 * local actor: Postfix's local(8): aliases, .forward, mailboxes, commands
 * and files for the local domains (mydestination). Forwarded addresses go
 * back into the queue through cleanup, as a new message.
 */
import { runActor } from '../../runtime/actor.js';
import { LocalAgent } from './local-agent.js';
import { ContentReader } from '../../global/content-reader.js';
import { QueueIdGenerator } from '../../store/store-queue-id.js';
import { cleanupForActor } from '../../cleanup/cleanup-for-actor.js';
import { submitToQueue } from '../../cleanup/cleanup-submit.js';
import type { RecipientSpec } from '../../store/store-types.js';

runActor('local', (ctx) => {
  const reader = new ContentReader(ctx.config.path('queue_directory'));
  const journal = ctx.peers('journal');
  const cleanup = cleanupForActor(ctx);
  const ids = new QueueIdGenerator(ctx.idSalt);
  const agent = new LocalAgent({
    config: ctx.config,
    log: ctx.log,
    readContent: (loc) => reader.read(loc),
    forward: async ({ sender, recipients, content, origRcpt, notify, orcpt, envid, ret, verify }) => {
      const queueId = ids.next();
      const out = await submitToQueue(cleanup, journal, ctx.log, {
        queueId,
        arrivalTime: Date.now(),
        sender,
        recipients: recipients.map((address) => {
          const spec: RecipientSpec = origRcpt !== undefined && origRcpt !== address ? { address, origRcpt } : { address };
          if (notify !== undefined) spec.notify = notify;
          if (orcpt !== undefined) spec.orcpt = orcpt;
          return spec;
        }),
        client: { name: 'localhost', addr: '127.0.0.1', protocol: 'local' },
        content,
        local: true,
        ...(envid !== undefined ? { envid } : {}),
        ...(ret !== undefined ? { ret } : {}),
        ...(verify ? { verify } : {}),
      });
      if (!out.ok) throw new Error(`${out.code} ${out.dsn} ${out.text}`);
      return queueId;
    },
  });
  ctx.onShutdown(() => reader.close());
  return { deliver: (req) => agent.deliver(req) };
});
