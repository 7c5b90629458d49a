/**
 * smtpd-serve: the smtpd actor, loaded by its entry smtpd-actor.ts. One
 * of the maxproc threads of an inet service of master.cf, all listening
 * on the service's address with the listen option reusePort (the kernel
 * spreads connections over them). It answers SMTP, applies the
 * access policy, and hands each message to cleanup and the journal; the
 * client hears 250 only after the journal has the message on disk. The
 * per-client counts are the anvil actor's, shared by every thread. RCPT and
 * VRFY resolve recipients through the trivial-rewrite actor (qmgr's own
 * resolution); ETRN asks every qmgr shard to flush the site.
 */
import { runActor } from '../../runtime/actor.js';
import { Smtpd } from './smtpd.js';
import { cleanupForActor } from '../../cleanup/cleanup-for-actor.js';
import { submitToQueue } from '../../cleanup/cleanup-submit.js';
import { SESSION_CAP_SLACK } from '../../runtime/control-messages.js';
import { RemoteAnvil } from './smtpd-anvil.js';
import { TtlCache } from '../../util/ttl-cache.js';
import type { ResolvedAddress } from '../../protocol/protocol.js';
import { setThreadLabels } from '../../util/metrics-counters.js';

/** Resolution answers kept per thread: a round trip per RCPT would cost more than the check. */
const ROUTE_CACHE_LIMIT = 10_000;
const ROUTE_CACHE_TTL_MS = 60_000;

runActor('smtpd', async (ctx) => {
  if (!ctx.service) throw new Error('smtpd started without an inet service');
  // Every smtpd_* series of this thread is the service's (a thread serves one service).
  setThreadLabels('smtpd_', { service: ctx.service.name });
  const journal = ctx.peers('journal');
  const cleanup = cleanupForActor(ctx);
  const rewrite = ctx.peers('trivial-rewrite');
  const qmgr = ctx.peers('qmgr');
  // The same answers qmgr gets, cached per thread as cleanup's rewrite answers are.
  const routes = new TtlCache<ResolvedAddress>(ROUTE_CACHE_LIMIT, ROUTE_CACHE_TTL_MS);
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
    resolve: (address) => routes.through(address.toLowerCase(), () => rewrite.call('resolve', { address }, { timeoutMs: 10_000 }), (r) => r.transport !== 'retry'),
    // ETRN: the site's deferred mail, on every queue shard.
    flush: async (site) => {
      await Promise.all(qmgr.instances().map((instance) => qmgr.call('flush', { site }, { instance, timeoutMs: 10_000 })));
    },
    submit: (s) =>
      submitToQueue(cleanup, journal, ctx.log, {
        queueId: s.queueId,
        arrivalTime: s.arrivalTime,
        sender: s.sender,
        recipients: s.recipients,
        client: s.client,
        content: s.content,
        ...(s.crlf ? { crlf: true } : {}),
        ...(s.spooled ? { spooled: s.spooled } : {}),
        envid: s.envid,
        ret: s.ret,
        smtputf8: s.smtputf8,
        bodyType: s.bodyType,
        ...(s.requiretls ? { requiretls: true } : {}),
        local: false,
        heloName: s.heloName,
        tlsInfo: s.tlsInfo,
        authenticatedSender: s.authenticatedSender,
        actions: s.actions,
        contentFilter: s.contentFilter,
        receiveOverride: s.receiveOverride,
        ...(s.milters ? { milters: s.milters } : {}),
        ...(s.hold ? { hold: true } : {}),
        authResults: s.authResults,
      }),
  });
  await smtpd.listen();
  ctx.onDrain((deadlineMs) => smtpd.drain(deadlineMs));
  ctx.onShutdown(() => smtpd.close());
  ctx.ready();
  return {};
}, { manualReady: true });
