/**
 * pickup actor: takes what `postrider sendmail` dropped in the maildrop
 * directory into the queue, through cleanup, and deletes each file only once
 * the journal has the message on disk.
 */
import { runActor } from '../../runtime/actor.js';
import { Pickup } from './pickup.js';
import { QueueIdGenerator } from '../../store/store-queue-id.js';
import { cleanupForActor } from '../../cleanup/cleanup-for-actor.js';
import { submitToQueue } from '../../cleanup/cleanup-submit.js';

runActor('pickup', (ctx) => {
  const journal = ctx.peers('journal');
  const cleanup = cleanupForActor(ctx);
  const ids = new QueueIdGenerator(ctx.idSalt);
  const pickup = new Pickup({
    queueDir: ctx.config.path('queue_directory'),
    log: ctx.log,
    submit: async (m) => {
      const queueId = ids.next();
      const out = await submitToQueue(cleanup, journal, ctx.log, {
        queueId,
        arrivalTime: m.arrivalTime,
        sender: m.sender,
        recipients: m.recipients,
        client: { name: 'localhost', addr: '127.0.0.1', protocol: 'local' },
        content: m.content,
        envid: m.envid,
        ret: m.ret,
        ...(m.bodyType !== undefined ? { bodyType: m.bodyType } : {}),
        ...(m.fullName !== undefined ? { fullName: m.fullName } : {}),
        local: true,
        // Mail from sendmail is what non_smtpd_milters inspect.
        nonSmtpdMilters: true,
        userid: m.uid,
      });
      if (out.ok) return { queueId };
      if (out.code >= 500) return { rejected: `${out.code} ${out.dsn} ${out.text}` };
      throw Object.assign(new Error(out.text), { retryable: true });
    },
  });
  pickup.start();
  ctx.onDrain(() => pickup.stop());
  return {};
});
