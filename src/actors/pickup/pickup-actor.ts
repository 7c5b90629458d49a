/**
 * pickup actor: takes what `postrider sendmail` dropped in the maildrop
 * directory into the queue, through cleanup, and deletes each file only once
 * the journal has the message on disk. Mail that cleanup refuses for good
 * (5xx: too many hops, a header_checks REJECT) is returned to its sender in
 * a failure notice, as Postfix's cleanup does for local submissions; the
 * file is deleted once bounce has queued that notice.
 */
import { runActor } from '../../runtime/actor.js';
import { Pickup } from './pickup.js';
import { QueueIdGenerator } from '../../store/store-queue-id.js';
import { cleanupForActor } from '../../cleanup/cleanup-for-actor.js';
import { submitToQueue } from '../../cleanup/cleanup-submit.js';
import type { QueuedMessage } from '../../store/store-types.js';
import { parseContentFilter, parseReceiveOverrideOptions } from '../../config/content-filter.js';

runActor('pickup', (ctx) => {
  const journal = ctx.peers('journal');
  const bounce = ctx.peers('bounce');
  const cleanup = cleanupForActor(ctx);
  const ids = new QueueIdGenerator(ctx.idSalt);
  // As Postfix's pickup: content_filter and receive_override_options (main.cf, or this service's -o) apply to local mail too.
  const read = (name: string): string => (ctx.config.has(name) ? ctx.config.get(name).trim() : '');
  const contentFilter = read('content_filter');
  if (contentFilter) parseContentFilter(contentFilter);
  const receiveOverride = parseReceiveOverrideOptions(read('receive_override_options'));
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
        ...(m.verify ? { verify: true } : {}),
        local: true,
        // Mail from sendmail is what non_smtpd_milters inspect.
        nonSmtpdMilters: true,
        userid: m.uid,
        ...(contentFilter ? { contentFilter } : {}),
        receiveOverride,
      });
      if (out.ok) return { queueId };
      if (out.code >= 500) {
        // Postfix's cleanup_bounce: the sender hears of it; nothing is left to deliver.
        const message: QueuedMessage = {
          queueId,
          arrivalTime: m.arrivalTime,
          sender: m.sender,
          recipients: m.recipients.map((r) => ({ ...r, state: 'bounced', reason: out.text, dsn: out.dsn, attempts: 0 })),
          ...(m.envid !== undefined ? { envid: m.envid } : {}),
          ...(m.ret !== undefined ? { ret: m.ret } : {}),
          ...(m.bodyType !== undefined ? { bodyType: m.bodyType } : {}),
          client: { name: 'localhost', addr: '127.0.0.1', protocol: 'local' },
          hold: false,
          headerLength: 0,
          size: m.content.length,
          location: { segment: 0, offset: 0, length: 0 },
        };
        const reason = out.text.replace(/^Error: /, '');
        for (const r of m.recipients) {
          ctx.log.queue(queueId, `to=<${r.address}>, relay=none, delay=0, delays=0/0/0/0, dsn=${out.dsn}, status=bounced (${reason})`);
        }
        try {
          await bounce.call(
            'notify',
            { message, content: m.content, kind: 'failure', recipients: m.recipients.map((_, index) => ({ index, dsn: out.dsn, reason })) },
            { timeoutMs: 60_000 },
          );
        } catch (err) {
          throw Object.assign(new Error(`failure notice: ${(err as Error).message}`), { retryable: true });
        }
        return { queueId };
      }
      throw Object.assign(new Error(out.text), { retryable: true });
    },
  });
  pickup.start();
  // It waits on demand: the supervisor starts it when the maildrop holds mail, and it ends after max_idle with none.
  ctx.holdsWork(() => pickup.holdsWork());
  ctx.onDrain(() => pickup.stop());
  return {};
});
