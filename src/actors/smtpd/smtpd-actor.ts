/**
 * smtpd actor: one of the maxproc threads of an inet service of master.cf,
 * all listening on the service's address with the listen option reusePort
 * (the kernel spreads connections over them). It answers SMTP, applies the
 * access policy, and hands each message to cleanup and the journal; the
 * client hears 250 only after the journal has the message on disk. The
 * per-client counts are the anvil actor's, shared by every thread.
 */
import { runActor } from '../../runtime/actor.js';
import { Smtpd } from './smtpd.js';
import { cleanupForActor } from '../../cleanup/cleanup-for-actor.js';
import { submitToQueue } from '../../cleanup/cleanup-submit.js';
import { SESSION_CAP_SLACK } from '../../runtime/control-messages.js';
import { RemoteAnvil } from './smtpd-anvil.js';
import { setThreadLabels } from '../../util/metrics-counters.js';

runActor('smtpd', async (ctx) => {
  if (!ctx.service) throw new Error('smtpd started without an inet service');
  // Every smtpd_* series of this thread is the service's (a thread serves one service).
  setThreadLabels('smtpd_', { service: ctx.service.name });
  const journal = ctx.peers('journal');
  const cleanup = cleanupForActor(ctx);
  const smtpd = new Smtpd({
    config: ctx.config,
    service: ctx.service,
    log: ctx.log,
    idSalt: ctx.idSalt,
    anvil: new RemoteAnvil(ctx.peers('anvil'), (text) => ctx.log.warning(text)),
    reusePort: ctx.listener?.reusePort ?? false,
    threads: ctx.listener?.threads ?? 1,
    // The supervisor share of the open-file limit; past it (and its slack) connections are dropped unanswered.
    connectionLimit: ctx.sessionCapFromFdLimit === undefined ? undefined : ctx.sessionCapFromFdLimit + SESSION_CAP_SLACK,
    submit: (s) =>
      submitToQueue(cleanup, journal, ctx.log, {
        queueId: s.queueId,
        arrivalTime: s.arrivalTime,
        sender: s.sender,
        recipients: s.recipients,
        client: s.client,
        content: s.content,
        envid: s.envid,
        ret: s.ret,
        smtputf8: s.smtputf8,
        bodyType: s.bodyType,
        local: false,
        heloName: s.heloName,
        tlsInfo: s.tlsInfo,
        authenticatedSender: s.authenticatedSender,
      }),
  });
  await smtpd.listen();
  ctx.onDrain((deadlineMs) => smtpd.drain(deadlineMs));
  ctx.onShutdown(() => smtpd.close());
  ctx.ready();
  return {};
}, { manualReady: true });
