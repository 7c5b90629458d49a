/**
 * qmgr-harness: what the scheduler tests drive it with: a journal that
 * applies outcomes in memory and says when a message is finished, a
 * resolver over a routing table, delivery agents that answer per a script
 * and count concurrency per nexthop, a bounce that records the failure,
 * delay and success notices the scheduler asks for (and can refuse them),
 * and a
 * log sink that keeps the lines. Test support only.
 */
import { MainConfig } from '../../../src/config/main-config.js';
import type { DeliveryRequest, DeliveryResult, NoticeKind, ResolvedAddress } from '../../../src/protocol/protocol.js';
import type { BodyLocation, DsnNotify, QueuedMessage, QueuedRecipient, RecipientOutcome } from '../../../src/store/store-types.js';
import { configureLogging, Logger, type LogSink } from '../../../src/util/log.js';
import { Scheduler, type NoticeRecipient, type QmgrDeps } from '../../../src/actors/qmgr/qmgr-scheduler.js';

/** Log lines of this thread, kept for assertions. */
export const logLines: string[] = [];
const sink: LogSink = {
  write: (line) => void logLines.push(line),
  flush: () => undefined,
  reopen: () => undefined,
};
configureLogging({ sink, myhostname: 'mx.test' });

export function config(params: Record<string, string> = {}): MainConfig {
  return new MainConfig({ minimal_backoff_time: '100ms', maximal_backoff_time: '200ms', queue_run_delay: '50ms', ...params }, '/');
}

let seq = 0;
/** A queued message with these recipients, all ready unless given. */
export function message(
  rcpts: Array<string | Partial<QueuedRecipient> & { address: string }>,
  opts: Partial<QueuedMessage> = {},
): QueuedMessage {
  seq++;
  return {
    queueId: opts.queueId ?? `Q${String(seq).padStart(5, '0')}`,
    arrivalTime: opts.arrivalTime ?? Date.now(),
    sender: opts.sender ?? 'sender@example.org',
    recipients: rcpts.map((r) => (typeof r === 'string' ? { address: r, state: 'ready', attempts: 0 } : { state: 'ready', attempts: 0, ...r })),
    client: { name: 'localhost', addr: '127.0.0.1', protocol: 'ESMTP' },
    hold: opts.hold ?? false,
    headerLength: 20,
    size: opts.size ?? 100,
    location: { segment: 1, offset: 0, length: 100 },
    ...opts,
  } as QueuedMessage;
}

export function notify(...n: DsnNotify[]): DsnNotify[] {
  return n;
}

/** One deliver() call as the agent saw it. */
export interface DeliverCall {
  transport: string;
  nexthop: string;
  queueId: string;
  addresses: string[];
  /** Deliveries to this nexthop in flight, this one included, when it started. */
  concurrency: number;
  /** Deliveries of this transport in flight, this one included. */
  transportConcurrency: number;
  /** Date.now() when the agent got the request. */
  at: number;
  /** Where the request said the content lies. */
  location: BodyLocation;
  /** The lane (agent thread) it went to. */
  lane: number;
  /** Deliveries in flight in its lane to this nexthop, this one included. */
  laneConcurrency: number;
}

/** Answer for one recipient: an SMTP-like reply, or 'crash' to reject the whole request. */
export type Answer =
  | { state: 'delivered' | 'deferred' | 'bounced'; dsn?: string; reason?: string; reply?: string; action?: 'relayed'; notifyPassed?: boolean }
  | 'crash';

export interface Notice {
  queueId: string;
  kind: NoticeKind;
  recipients: NoticeRecipient[];
  addresses: string[];
}

export interface HarnessOptions {
  params?: Record<string, string>;
  /** Routing: domain -> [transport, nexthop]; default smtp:<domain>. */
  routes?: Record<string, [string, string]>;
  /** How an agent answers a recipient; default delivered. Called per attempt. */
  answer?: (address: string, call: DeliverCall, attempt: number) => Answer;
  /** Milliseconds each delivery takes (a real timer); 0 = next tick. */
  deliveryMs?: number;
  /** Agent threads of every transport (lanes); one when absent. */
  lanes?: number;
  now?: () => number;
}

/** The scheduler wired to recording parts. */
export class Harness {
  readonly scheduler: Scheduler;
  readonly calls: DeliverCall[] = [];
  readonly resolveCalls: string[] = [];
  readonly records: Array<{ queueId: string; outcomes: RecipientOutcome[]; noticed?: number[] }> = [];
  /** While true, bounce refuses every notice (a retryable error, as a restarting bounce). */
  bounceDown = false;
  readonly notices: Notice[] = [];
  /** The journal's view: queue id -> recipient states. */
  readonly journal = new Map<string, QueuedMessage>();
  readonly busy = new Map<string, number>();
  readonly maxBusy = new Map<string, number>();
  readonly busyTransport = new Map<string, number>();
  readonly attempts = new Map<string, number>();
  private readonly opts: HarnessOptions;

  /** @param t the test, whose end stops the scheduler (pass or fail) */
  constructor(t: { after(fn: () => void): void }, opts: HarnessOptions = {}) {
    this.opts = opts;
    t.after(() => this.scheduler.stop());
    const deps: QmgrDeps = {
      config: config(opts.params),
      log: new Logger('qmgr', 1),
      resolve: async (address) => this.resolve(address),
      deliver: (transport, req, lane) => this.deliver(transport, req, lane),
      lanes: () => opts.lanes ?? 1,
      recordOutcomes: async (queueId, outcomes, noticed) => this.record(queueId, outcomes, noticed),
      notify: async (req) => {
        if (this.bounceDown) throw Object.assign(new Error('notify to bounce[1]: peer down'), { retryable: true });
        this.notices.push({
          queueId: req.message.queueId,
          kind: req.kind,
          recipients: req.recipients,
          addresses: req.recipients.map((r) => req.message.recipients[r.index].address),
        });
        return { queueId: 'BOUNCE' };
      },
      drainTimeoutMs: 5000,
    };
    if (opts.now) deps.now = opts.now;
    this.scheduler = new Scheduler(deps);
  }

  /** Registers a message with the journal and hands it to the scheduler. */
  arrive(m: QueuedMessage): QueuedMessage {
    this.journal.set(m.queueId, structuredClone(m));
    this.scheduler.arrived(m);
    return m;
  }

  /** Registers messages with the journal without telling the scheduler (for start()). */
  recovered(...ms: QueuedMessage[]): QueuedMessage[] {
    for (const m of ms) this.journal.set(m.queueId, structuredClone(m));
    return ms;
  }

  state(queueId: string, index: number): string | undefined {
    return this.journal.get(queueId)?.recipients[index].state;
  }

  callsTo(nexthop: string): DeliverCall[] {
    return this.calls.filter((c) => c.nexthop === nexthop);
  }

  private resolve(address: string): ResolvedAddress {
    this.resolveCalls.push(address);
    const domain = address.slice(address.lastIndexOf('@') + 1).toLowerCase();
    const [transport, nexthop] = this.opts.routes?.[domain] ?? ['smtp', domain];
    return { addressClass: 'default', transport, nexthop, recipient: address };
  }

  private async deliver(transport: string, req: DeliveryRequest, lane: number): Promise<DeliveryResult> {
    const laneKey = `${req.nexthop}#${lane}`;
    const inLane = (this.busy.get(laneKey) ?? 0) + 1;
    this.busy.set(laneKey, inLane);
    const n = (this.busy.get(req.nexthop) ?? 0) + 1;
    this.busy.set(req.nexthop, n);
    this.maxBusy.set(req.nexthop, Math.max(n, this.maxBusy.get(req.nexthop) ?? 0));
    const t = (this.busyTransport.get(transport) ?? 0) + 1;
    this.busyTransport.set(transport, t);
    const call: DeliverCall = {
      transport,
      nexthop: req.nexthop,
      queueId: req.queueId,
      addresses: req.recipients.map((r) => r.address),
      concurrency: n,
      transportConcurrency: t,
      at: Date.now(),
      location: req.location,
      lane,
      laneConcurrency: inLane,
    };
    this.calls.push(call);
    try {
      const ms = this.opts.deliveryMs ?? 0;
      await new Promise((r) => (ms > 0 ? setTimeout(r, ms) : setImmediate(r)));
      const outcomes: DeliveryResult['outcomes'] = [];
      for (const r of req.recipients) {
        const key = `${req.queueId}/${r.index}`;
        const attempt = (this.attempts.get(key) ?? 0) + 1;
        this.attempts.set(key, attempt);
        const a = this.opts.answer?.(r.address, call, attempt) ?? { state: 'delivered' };
        if (a === 'crash') throw Object.assign(new Error('agent exited'), { retryable: true });
        const dsn = a.dsn ?? (a.state === 'delivered' ? '2.0.0' : a.state === 'deferred' ? '4.0.0' : '5.0.0');
        const o: DeliveryResult['outcomes'][number] = { index: r.index, state: a.state, dsn, reason: a.reason ?? `${dsn} answer`, relay: `${req.nexthop}[127.0.0.1]:25` };
        if (a.reply !== undefined) o.reply = a.reply;
        if (a.action !== undefined) o.action = a.action;
        if (a.notifyPassed !== undefined) o.notifyPassed = a.notifyPassed;
        outcomes.push(o);
      }
      return { outcomes, connectSeconds: 0, transmitSeconds: 0 };
    } finally {
      this.busy.set(laneKey, (this.busy.get(laneKey) ?? 1) - 1);
      this.busy.set(req.nexthop, (this.busy.get(req.nexthop) ?? 1) - 1);
      this.busyTransport.set(transport, (this.busyTransport.get(transport) ?? 1) - 1);
    }
  }

  private record(queueId: string, outcomes: RecipientOutcome[], noticed?: number[]): { finished: boolean } {
    this.records.push(noticed ? { queueId, outcomes: structuredClone(outcomes), noticed: [...noticed] } : { queueId, outcomes: structuredClone(outcomes) });
    const m = this.journal.get(queueId);
    if (!m) return { finished: true };
    for (const o of outcomes) {
      const r = m.recipients[o.index];
      r.state = o.state;
      r.reason = o.reason;
      r.dsn = o.dsn;
      r.nextAttempt = o.nextAttempt;
      if (o.delayNotified) r.delayNotified = true;
      if (o.relay !== undefined) r.relay = o.relay;
      else delete r.relay;
    }
    for (const i of noticed ?? []) m.recipients[i].failureNotified = true;
    // The store's rule: done when nothing is left to try and every failed recipient was listed.
    const finished = m.recipients.every((r) => r.state === 'delivered' || ((r.state === 'bounced' || r.state === 'expired') && r.failureNotified === true));
    return { finished };
  }
}

/** Waits until `cond` holds (polling), failing after `ms`. */
export async function waitFor(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const until = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > until) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 5));
  }
}

/** Log lines that contain `text`. */
export function logged(text: string): string[] {
  return logLines.filter((l) => l.includes(text));
}
