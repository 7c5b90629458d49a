/**
 * smtp actor: Postfix's smtp(8) delivery agent. Delivers one delivery
 * request at a time per call (qmgr decides the concurrency per destination)
 * and reads the content from the journal by location. Its connection cache
 * lives in this thread; qmgr sends each destination to one instance, so its
 * idle connections are all here to be reused.
 */
import { runActor } from '../../runtime/actor.js';
import { SmtpAgent } from './smtp-agent.js';
import { ContentReader } from '../../global/content-reader.js';
import { startTlsRptSchedule } from '../../global/tlsrpt-send.js';

runActor('smtp', (ctx) => {
  const reader = new ContentReader(ctx.config.path('queue_directory'));
  const agent = new SmtpAgent({ config: ctx.config, log: ctx.log, readContent: (loc) => reader.read(loc) });
  // smtp_tlsrpt_send_time: every smtp thread arms it; each day is claimed on disk, so it is sent once.
  const reports = startTlsRptSchedule(ctx.config, (line) => ctx.log.info(line));
  ctx.onShutdown(async () => {
    reports.stop();
    await agent.close();
    reader.close();
  });
  return { deliver: (req) => agent.deliver(req) };
});
