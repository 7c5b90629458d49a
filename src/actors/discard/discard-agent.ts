/**
 * discard-agent: Postfix's discard(8) as a library: every recipient is
 * reported delivered (dsn 2.0.0, status=sent) and the message is dropped.
 * The reason is the nexthop text (from "discard:text" in a transport or
 * access table), or "discarded". Never rejects; reads no content.
 */
import type { DeliveryOutcome, DeliveryRequest, DeliveryResult } from '../../protocol/protocol.js';
import { logOutcomes } from '../../global/delivery-log.js';
import type { Logger } from '../../util/log.js';

/** The discard delivery agent: accept and drop. */
export class DiscardAgent {
  constructor(private readonly opts: { log: Logger }) {}

  /** Reports every recipient of `req` delivered, logging each as Postfix does. */
  async deliver(req: DeliveryRequest): Promise<DeliveryResult> {
    const start = Date.now();
    const reason = req.nexthop.trim() || 'discarded';
    const outcomes: DeliveryOutcome[] = req.recipients.map((r) => ({ index: r.index, state: 'delivered', dsn: '2.0.0', reason, relay: 'none' }));
    const end = Date.now();
    logOutcomes(this.opts.log, req, outcomes, { connectStart: start, transmitStart: start, end });
    return { outcomes, connectSeconds: 0, transmitSeconds: (end - start) / 1000 };
  }
}
