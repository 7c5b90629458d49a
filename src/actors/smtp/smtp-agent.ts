/**
 * smtp-agent: Postfix's smtp(8) delivery agent as a library. deliver() takes
 * one request (one message, recipients for one next hop, or a list of them
 * tried in order), finds the hosts (MX / A / AAAA, or the bracketed host), reuses a cached connection or opens
 * sessions in order, runs the transaction and returns one outcome per
 * recipient, logging each in Postfix's format. deliver() never rejects: any
 * unexpected error defers every recipient still undecided (4.3.0).
 */
import type { promises as dnsPromises } from 'node:dns';
import { isIP } from 'node:net';
import type { MainConfig } from '../../config/main-config.js';
import type { DeliveryOutcome, DeliveryRequest, DeliveryResult } from '../../protocol/protocol.js';
import type { BodyLocation } from '../../store/store-types.js';
import type { Logger } from '../../util/log.js';
import { logOutcomes } from '../../global/delivery-log.js';
import { SmtpConnectionCache } from './smtp-connection-cache.js';
import { makeResolver, resolveTargetList } from './smtp-mx.js';
import { parseNexthopList } from './smtp-nexthop.js';
import { readSmtpParams, type SmtpParams } from './smtp-params.js';
import { isSession, openSession, tlsModeOf, type SessionFailure, type SmtpSession } from './smtp-session.js';
import { openTableList } from '../../config/lookup-table.js';
import { DaneResolver } from './smtp-dane.js';
import type { SmtpTarget } from './smtp-mx.js';
import type { StsPolicy, TlsPolicy } from './smtp-tls-policy-types.js';
import { resolveTlsPolicy, type TlsPolicyContext } from './smtp-tls-policy.js';
import { tlsPolicyKey } from './smtp-tls-table.js';
import { runTransaction, type PendingRecipient, type TransactionOptions, type TransactionResult } from './smtp-transaction.js';
import { runVerifyTransaction } from './smtp-verify.js';
import {
  cacheTagOf, demandOf, passesRequireTls, readRequireTlsSettings, requireTlsPolicy, requireTlsSessionFailure, sessionTls, sessionVerdict, type RequireTlsSettings,
} from './smtp-requiretls.js';
import { SmtpTlsGate } from './smtp-tls-gate.js';

/** What every delivery agent library is built with. */
export interface AgentOptions {
  config: MainConfig;
  log: Logger;
  /** Reads a message's content (headers + body, CRLF) from the queue store. */
  readContent: (location: BodyLocation) => Promise<Buffer>;
  /** The MTA-STS policy of a domain, when MTA-STS is enabled (resolveTlsPolicy's opts.sts). */
  sts?: (domain: string) => Promise<StsPolicy | undefined>;
}

const BAD_ADDRESS = /[\r\n<>\s]/;

/** The smtp delivery agent; one per thread, holding that thread's connection cache. */
export class SmtpAgent {
  private readonly params: SmtpParams;
  private readonly resolver: dnsPromises.Resolver;
  private readonly cache: SmtpConnectionCache;
  private readonly requireTls: RequireTlsSettings;
  private readonly tlsContext: TlsPolicyContext;
  /** MTA-STS and TLSRPT (smtp_mta_sts_enable, smtp_tlsrpt_enable). */
  private readonly tlsGate: SmtpTlsGate;
  private closed = false;

  constructor(private readonly opts: AgentOptions) {
    this.params = readSmtpParams(opts.config);
    this.resolver = makeResolver(this.params.dnsServers);
    this.requireTls = readRequireTlsSettings(opts.config);
    this.cache = new SmtpConnectionCache(this.params.cacheTimeLimit, this.params.reuseCountLimit, this.params.reuseTimeLimit);
    this.tlsGate = new SmtpTlsGate(opts.config, this.resolver, opts.log);
    const p = this.params;
    this.tlsContext = {
      level: p.tlsLevel,
      table: p.tlsPolicyMaps ? openTableList(p.tlsPolicyMaps, opts.config.dir) : undefined,
      fingerprintMatch: p.tlsFingerprintMatch,
      verifyMatch: p.tlsVerifyMatch,
      secureMatch: p.tlsSecureMatch,
      dnssec: p.dnssec,
      dane: new DaneResolver(p.dnsServers),
      warn: (text) => opts.log.warning(text),
    };
  }

  /** The TLS policy of one attempt to `target` (smtp_tls_policy_maps, DANE, main.cf). */
  private tlsPolicy(target: SmtpTarget): Promise<TlsPolicy> {
    const n = target.nexthop;
    const domain = n?.host ?? target.hostname;
    return resolveTlsPolicy(this.tlsContext, domain, target.hostname, target.port, {
      nexthopKey: n ? tlsPolicyKey(n.host, n.port, n.mxLookup, this.params.defaultPort) : undefined,
      viaMx: target.viaMx ?? false,
      ipv6: isIP(target.address) === 6,
      // MTA-STS is for the recipient domain reached through its MX records, never a relayhost or [host].
      sts: n?.mxLookup ? (this.opts.sts ?? this.tlsGate.stsLookup) : undefined,
    });
  }

  /** Idle cached connections (for tests and status). */
  get cachedConnections(): number {
    return this.cache.size;
  }

  /** Delivers one request; resolves with one outcome per recipient. */
  async deliver(req: DeliveryRequest): Promise<DeliveryResult> {
    const start = Date.now();
    const decided = new Map<number, DeliveryOutcome>();
    const times = { connectStart: start, transmitStart: start, end: start, connUse: undefined as number | undefined };
    try {
      await this.attempt(req, decided, times);
    } catch (err) {
      for (const r of req.recipients) {
        if (!decided.has(r.index)) {
          decided.set(r.index, { index: r.index, state: 'deferred', dsn: '4.3.0', reason: `internal error: ${(err as Error)?.message ?? err}`, relay: 'none' });
        }
      }
    }
    times.end = Date.now();
    const outcomes = req.recipients.map((r) => decided.get(r.index)!);
    const reported = logOutcomes(this.opts.log, req, outcomes, times, this.params.softBounce);
    return {
      outcomes: reported,
      connectSeconds: (times.transmitStart - times.connectStart) / 1000,
      transmitSeconds: (times.end - times.transmitStart) / 1000,
    };
  }

  /** Closes every cached connection; later deliveries still work but are not cached. */
  async close(): Promise<void> {
    this.closed = true;
    this.cache.closeAll();
    await this.tlsGate.flush();
  }

  private async attempt(
    req: DeliveryRequest,
    decided: Map<number, DeliveryOutcome>,
    times: { transmitStart: number; connUse: number | undefined },
  ): Promise<void> {
    const setAll = (list: PendingRecipient[], o: Omit<DeliveryOutcome, 'index'>) => {
      for (const r of list) decided.set(r.index, { index: r.index, ...o });
    };
    let pending: PendingRecipient[] = [];
    const badSender = !!req.sender && BAD_ADDRESS.test(req.sender);
    for (const r of req.recipients) {
      if (badSender || !r.address || BAD_ADDRESS.test(r.address)) {
        decided.set(r.index, { index: r.index, state: 'bounced', dsn: '5.1.3', reason: `bad address syntax: <${r.address}>`, relay: 'none' });
      } else {
        pending.push(r);
      }
    }
    if (!pending.length) return;
    const nexthops = parseNexthopList(req.nexthop, this.params.defaultPort);
    if (!nexthops) {
      setAll(pending, { state: 'deferred', dsn: '4.3.5', reason: `mail transport unavailable: malformed nexthop "${req.nexthop}"`, relay: 'none' });
      return;
    }
    let content: Buffer;
    try {
      // As queued: smtp_line_length_limit and MIME conversion apply per server (runTransaction).
      content = await this.opts.readContent(req.location);
    } catch (err) {
      setAll(pending, { state: 'deferred', dsn: '4.3.0', reason: `error reading queue file: ${(err as Error)?.message ?? err}`, relay: 'none' });
      return;
    }
    // RFC 8689: REQUIRETLS and "TLS-Required: No" shape the TLS of this delivery (smtp-requiretls).
    const demand = demandOf(req, this.requireTls);
    const key = `${req.transport}:${req.nexthop}${cacheTagOf(demand)}`;
    const sendOpts: TransactionOptions = {
      lineLengthLimit: this.params.lineLengthLimit,
      mimeOutputConversion: this.params.mimeOutputConversion,
      nestingLimit: this.params.mimeNestingLimit,
      requiretls: passesRequireTls(demand),
    };

    // A cached connection first; one the server dropped is replaced without failing anything.
    for (;;) {
      const cached = this.cache.take(key);
      if (!cached) break;
      times.transmitStart = Date.now();
      times.connUse = cached.uses + 1;
      const r = await transact(cached, req, pending, content, sendOpts);
      if (r.noReply) {
        cached.client.close();
        continue;
      }
      for (const o of r.outcomes) decided.set(o.index, o);
      await this.finish(key, cached, r.reusable, r.needsReset);
      return;
    }

    const found = await resolveTargetList(this.resolver, nexthops, this.params.mxAddressLimit, this.params);
    if (!found.ok) {
      setAll(pending, { ...found.failure, relay: 'none' });
      return;
    }
    // MTA-STS enforce leaves only the MX hosts its policy names (none left: a deferral); the TLS policy of each comes below.
    const gate = await this.tlsGate.prepare(nexthops, found.targets);
    if (gate.deferral) {
      setAll(pending, { ...gate.deferral, relay: 'none' });
      return;
    }
    const tentative = new Map<number, DeliveryOutcome>();
    let lastFailure: SessionFailure | undefined;
    let sessions = 0;
    const targets = gate.targets;
    for (let i = 0; i < targets.length && pending.length; i++) {
      if (this.params.mxSessionLimit > 0 && sessions >= this.params.mxSessionLimit) break;
      // REQUIRETLS raises the destination's policy to verified TLS (RFC 8689); "TLS-Required: No" lowers it to may.
      const policy = requireTlsPolicy(await this.tlsPolicy(targets[i]), demand);
      const mode = tlsModeOf(policy);
      let s = await openSession(targets[i], this.params, mode, policy);
      this.tlsGate.record(gate, targets[i], s);
      if (!isSession(s) && s.tlsHandshakeFailed && mode === 'opportunistic') {
        // Postfix's "may": a failed handshake is retried in plain text.
        s = await openSession(targets[i], this.params, 'none', policy);
      }
      const tlsLine = s.tlsLine;
      if (tlsLine && this.params.tlsLoglevel >= 1) this.opts.log.info(tlsLine);
      if (!isSession(s)) {
        if (s.spoke) sessions++;
        lastFailure = s;
        // A 5xx to HELO is about this client, not this host: every host would say the same.
        if (s.state === 'bounced') break;
        lastFailure = requireTlsSessionFailure(demand, s);
        continue;
      }
      sessions++;
      const refused = sessionVerdict(demand, sessionTls(s));
      if (refused) {
        // Not this host for REQUIRETLS mail: the next MX may do; the last refusal bounces.
        s.client.shutdown();
        lastFailure = refused;
        continue;
      }
      if (s.client.discardedKeywords.length && !this.params.silentDiscard) {
        this.opts.log.info(`discarding EHLO keywords: ${s.client.discardedKeywords.join(' ')}`);
      }
      times.transmitStart = Date.now();
      times.connUse = 1;
      const r = await transact(s, req, pending, content, sendOpts);
      const lastHost = i === targets.length - 1 || (this.params.mxSessionLimit > 0 && sessions >= this.params.mxSessionLimit);
      const still: PendingRecipient[] = [];
      const byIndex = new Map(pending.map((p) => [p.index, p]));
      for (const o of r.outcomes) {
        // A temporary refusal is tried again at the next host, as Postfix does with backup MXes.
        if (o.state === 'deferred' && !lastHost) {
          tentative.set(o.index, o);
          still.push(byIndex.get(o.index)!);
        } else {
          decided.set(o.index, o);
        }
      }
      pending = still;
      await this.finish(key, s, r.reusable, r.needsReset);
    }
    for (const r of pending) {
      const t = tentative.get(r.index);
      if (t) decided.set(r.index, t);
      else if (lastFailure) decided.set(r.index, failureOutcome(r.index, lastFailure));
      else decided.set(r.index, { index: r.index, state: 'deferred', dsn: '4.4.1', reason: `no usable address for ${nexthops.map((n) => n.host).join(', ')}`, relay: 'none' });
    }
  }

  /** After a transaction: cache the session (RSET first when the transaction failed) or close it. */
  private async finish(key: string, session: SmtpSession, reusable: boolean, needsReset: boolean): Promise<void> {
    session.uses++;
    if (!reusable || this.closed) {
      session.client.shutdown();
      return;
    }
    if (needsReset && !(await session.client.rset())) {
      session.client.shutdown();
      return;
    }
    this.cache.put(key, session);
  }
}

/** One transaction: the message, or for a verify-only request (sendmail -bv) the envelope alone. */
function transact(s: SmtpSession, req: DeliveryRequest, pending: PendingRecipient[], content: Buffer, opts: TransactionOptions): Promise<TransactionResult> {
  return req.verify ? runVerifyTransaction(s, req, pending) : runTransaction(s, req, pending, content, opts);
}

/** A recipient's outcome from the failure that ended its last session, with the server's reply when there was one. */
function failureOutcome(index: number, f: SessionFailure): DeliveryOutcome {
  const o: DeliveryOutcome = { index, state: f.state, dsn: f.dsn, reason: f.reason, relay: f.relay };
  if (f.reply !== undefined) o.reply = f.reply;
  if (f.command !== undefined) o.command = f.command;
  return o;
}
