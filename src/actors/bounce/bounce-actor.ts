/**
 * bounce actor: Postfix's bounce(8). Builds an RFC 3464 notification for the
 * recipients qmgr names and queues it through cleanup like any message, with
 * the null sender so that a notification can never bounce in a loop.
 */
import { runActor } from '../../runtime/actor.js';
import { buildNotification } from './bounce-notification.js';
import { QueueIdGenerator } from '../../store/store-queue-id.js';
import { readContent } from '../../store/queue-store.js';
import { cleanupForActor } from '../../cleanup/cleanup-for-actor.js';
import { submitToQueue } from '../../cleanup/cleanup-submit.js';

/** Postfix's words: "sender non-delivery notification", "sender delay notification", "sender delivery status notification". */
const KIND_TEXT = { failure: 'non-delivery', delay: 'delay', success: 'delivery status', verify: 'delivery status' } as const;

runActor('bounce', (ctx) => {
  const journal = ctx.peers('journal');
  const cleanup = cleanupForActor(ctx);
  const ids = new QueueIdGenerator(ctx.idSalt);
  const queueDir = ctx.config.path('queue_directory');

  return {
    notify: async ({ message, content: given, kind, recipients }) => {
      const content = given ? Buffer.from(given.buffer, given.byteOffset, given.byteLength) : await readContent(queueDir, message.location);
      const queueId = ids.next();
      const now = Date.now();
      const built = buildNotification({ message, content, kind, recipients, config: ctx.config, queueId, now });
      if (!built) return {};
      const out = await submitToQueue(cleanup, journal, ctx.log, {
        queueId,
        arrivalTime: now,
        sender: '',
        recipients: built.recipients.map((address) => ({ address })),
        client: { name: 'localhost', addr: '127.0.0.1', protocol: 'bounce' },
        content: built.content,
        local: true,
        ...(built.requiretls ? { requiretls: true } : {}),
      });
      if (!out.ok) throw Object.assign(new Error(`${out.code} ${out.dsn} ${out.text}`), { retryable: true });
      ctx.log.queue(message.queueId, `sender ${KIND_TEXT[kind]} notification: ${queueId}`);
      return { queueId };
    },
  };
});
