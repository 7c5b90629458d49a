/**
 * error-agent: Postfix's error(8) as a library. The "error" transport bounces
 * every recipient; the "retry" transport defers every recipient. The reason
 * is the nexthop text ("error:5.1.1 User unknown" gives dsn 5.1.1, reason
 * "User unknown"); without a leading status code the dsn is 5.0.0 (error) or
 * 4.0.0 (retry). Never rejects; reads no content.
 */
import { failureState, softDsn, splitDsnText } from '../../global/dsn-status.js';
import type { DeliveryOutcome, DeliveryRequest, DeliveryResult } from '../../protocol/protocol.js';
import { logOutcomes } from '../../global/delivery-log.js';
import type { Logger } from '../../util/log.js';

/** The error (and retry) delivery agent: bounce (or defer) with the nexthop text. */
export class ErrorAgent {
  /**
   * @param opts.mode "error" bounces, "retry" defers; by default the request's
   *   transport name decides ("retry" defers, anything else bounces).
   * @param opts.softBounce soft_bounce: the bounces are reported as deferrals.
   */
  constructor(private readonly opts: { log: Logger; mode?: 'error' | 'retry'; softBounce?: boolean }) {}

  /** Bounces (or, as retry, defers) every recipient of `req`. */
  async deliver(req: DeliveryRequest): Promise<DeliveryResult> {
    const start = Date.now();
    const retry = (this.opts.mode ?? (req.transport === 'retry' ? 'retry' : 'error')) === 'retry';
    const split = splitDsnText(req.nexthop, retry ? '4.0.0' : '5.0.0');
    // A retry never bounces: a 5.x.y text is reported as its 4.x.y counterpart.
    const dsn = retry ? softDsn(split.dsn) : split.dsn;
    const state: DeliveryOutcome['state'] = retry ? 'deferred' : failureState(dsn);
    const reason = split.text || (retry ? 'delivery temporarily suspended' : 'mail delivery is disabled');
    const outcomes: DeliveryOutcome[] = req.recipients.map((r) => ({ index: r.index, state, dsn, reason, relay: 'none' }));
    const end = Date.now();
    const reported = logOutcomes(this.opts.log, req, outcomes, { connectStart: start, transmitStart: start, end }, this.opts.softBounce);
    return { outcomes: reported, connectSeconds: 0, transmitSeconds: (end - start) / 1000 };
  }
}
