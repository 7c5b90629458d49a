/**
 * smtp-tls-gate: what MTA-STS (RFC 8461) and TLSRPT (RFC 8460) add to one
 * delivery attempt of the smtp client. prepare() asks the domain's policy
 * (one nexthop looked up by MX, smtp_mta_sts_enable = yes) and shapes the
 * attempt: `enforce` keeps only the MX hosts the policy's mx patterns match
 * (none left: the mail defers, 4.7.5); the TLS each host then gets comes
 * from resolveTlsPolicy (enforce: level secure against the MX name, never
 * plain text; testing: checked, not enforced, so failures are counted).
 * record() hands every
 * session attempt's TLS result to TLSRPT (smtp_tlsrpt_enable = yes).
 *
 * Public: SmtpTlsGate (prepare, record, flush, stsLookup), classifyTlsFailure.
 * Nothing here throws: a policy that cannot be had is no policy.
 */
import { readFileSync } from 'node:fs';
import { isAbsolute, resolve } from 'node:path';
import type { promises as dnsPromises } from 'node:dns';
import type { MainConfig } from '../../config/main-config.js';
import { withParameterDefaults } from '../../config/parameter-defaults.js';
import type { Logger } from '../../util/log.js';
import { TlsRptRecorder } from '../../global/tlsrpt-record.js';
import type { SmtpTarget } from './smtp-mx.js';
import type { Nexthop } from './smtp-nexthop.js';
import type { SessionFailure, SmtpSession } from './smtp-session.js';
import type { StsPolicy, TlsFailureType, TlsSessionResult } from './smtp-tls-policy-types.js';
import { StsProvider, stsMxMatches } from './smtp-mta-sts.js';

const GATE_PARAMETERS = [
  'queue_directory', 'smtp_mta_sts_enable', 'smtp_mta_sts_cache_directory', 'smtp_mta_sts_CAfile',
  'smtp_mta_sts_fetch_timeout', 'smtp_tlsrpt_enable',
] as const;

/** How one delivery attempt goes, after MTA-STS had its say. */
export interface GateDecision {
  /** The policy domain (the nexthop domain looked up by MX); undefined: nothing to apply or record. */
  domain?: string;
  policy?: StsPolicy;
  targets: SmtpTarget[];
  /** Set when no MX host may be tried (enforce): defer every recipient with it. */
  deferral?: { state: 'deferred'; dsn: string; reason: string };
}

/** RFC 8460 result type of a TLS failure, from Node's error code or message. */
export function classifyTlsFailure(text: string): TlsFailureType {
  if (/not offered|STARTTLS/i.test(text) && !/certificate/i.test(text)) return 'starttls-not-supported';
  if (/CERT_HAS_EXPIRED|certificate has expired|CERT_NOT_YET_VALID/i.test(text)) return 'certificate-expired';
  if (/ALTNAME|HOSTNAME_MISMATCH|does not match certificate/i.test(text)) return 'certificate-host-mismatch';
  if (/SELF_SIGNED|self.signed|UNABLE_TO_(VERIFY|GET_ISSUER)|unable to (verify|get local issuer)|CERT_UNTRUSTED|CERT_SIGNATURE_FAILURE|DEPTH_ZERO/i.test(text)) {
    return 'certificate-not-trusted';
  }
  return 'validation-failure';
}

/** One per smtp agent (thread): the MTA-STS policies and the TLSRPT recorder. */
export class SmtpTlsGate {
  private readonly sts?: StsProvider;
  private readonly recorder?: TlsRptRecorder;

  constructor(input: MainConfig, resolver: dnsPromises.Resolver, log: Logger) {
    const config = withParameterDefaults(input, GATE_PARAMETERS);
    const queueDir = config.path('queue_directory');
    if (config.bool('smtp_mta_sts_enable')) {
      const dir = config.get('smtp_mta_sts_cache_directory').trim();
      const caFile = config.path('smtp_mta_sts_CAfile');
      let ca: Buffer | undefined;
      try {
        ca = caFile ? readFileSync(caFile) : undefined;
      } catch (err) {
        // The check command names an unreadable file; here a bad trust store must not mean "any certificate".
        log.warning(`cannot read smtp_mta_sts_CAfile ${caFile}: ${(err as Error).message}; MTA-STS policies cannot be fetched`);
        ca = Buffer.from('-');
      }
      this.sts = new StsProvider({
        resolver,
        cacheDir: isAbsolute(dir) ? dir : resolve(queueDir, dir),
        ca,
        timeoutMs: Math.round(config.time('smtp_mta_sts_fetch_timeout') * 1000),
        onFetch: (domain, outcome, detail) => {
          if (outcome === 'ok') log.info(`MTA-STS policy for ${domain} fetched: ${detail}`);
          else log.warning(`MTA-STS policy for ${domain} not fetched (${outcome}): ${detail}`);
        },
      });
    }
    if (config.bool('smtp_tlsrpt_enable')) this.recorder = new TlsRptRecorder(queueDir, (m) => log.warning(m));
  }

  /** The MTA-STS provider as resolveTlsPolicy's `sts` option takes it; undefined when smtp_mta_sts_enable = no. */
  get stsLookup(): ((domain: string) => Promise<StsPolicy | undefined>) | undefined {
    const sts = this.sts;
    return sts ? (domain) => sts.policyFor(domain) : undefined;
  }

  /**
   * The attempt's hosts under the domain's MTA-STS policy: enforce keeps
   * those its mx patterns match (none left: a deferral). The TLS each host
   * gets is resolveTlsPolicy's (the same policy, as level secure).
   */
  async prepare(nexthops: Nexthop[], targets: SmtpTarget[]): Promise<GateDecision> {
    const plain: GateDecision = { targets };
    if (!this.sts && !this.recorder) return plain;
    // A policy belongs to a destination domain: one nexthop found by MX, not [host] or a list.
    const domain = nexthops.length === 1 && nexthops[0].mxLookup ? nexthops[0].host.toLowerCase() : undefined;
    if (!domain) return plain;
    const policy = this.sts ? await this.sts.policyFor(domain) : undefined;
    if (!policy || policy.mode !== 'enforce') return { domain, policy, targets };
    const allowed = targets.filter((t) => stsMxMatches(policy, t.hostname));
    for (const t of targets) {
      if (!allowed.includes(t)) this.recordResult(domain, policy, t, undefined, { failure: 'validation-failure', detail: `MX host ${t.hostname} does not match the policy's mx patterns` });
    }
    const decision: GateDecision = { domain, policy, targets: allowed };
    if (!allowed.length) {
      const hosts = [...new Set(targets.map((t) => t.hostname))].join(', ');
      decision.deferral = { state: 'deferred', dsn: '4.7.5', reason: `MTA-STS policy of ${domain} (mode enforce) matches no MX host: ${hosts}` };
    }
    return decision;
  }

  /** Records one session attempt (before any plain-text retry) for TLSRPT. */
  record(d: GateDecision, target: SmtpTarget, s: SmtpSession | SessionFailure): void {
    if (!this.recorder || !d.domain) return;
    if ('client' in s) {
      let failure: TlsFailureType | undefined;
      let detail: string | undefined;
      if (!s.tls) {
        failure = 'starttls-not-supported';
        detail = `${s.peer} did not offer STARTTLS`;
      } else if (d.policy && s.tlsCheck && !s.tlsCheck.ok) {
        // The policy's own check of the chain and names (testing mode lets the session go on).
        failure = s.tlsCheck.failure ?? 'validation-failure';
        detail = s.tlsCheck.reason;
      } else if (d.policy && !stsMxMatches(d.policy, target.hostname)) {
        failure = 'validation-failure';
        detail = `MX host ${target.hostname} does not match the policy's mx patterns`;
      }
      this.recordResult(d.domain, d.policy, target, s.localAddress, failure ? { failure, detail } : undefined);
      return;
    }
    const notOffered = s.reason.startsWith('TLS is required, but was not offered');
    if (!s.tlsFailure && !notOffered && !s.tlsHandshakeFailed) return;
    const failure = s.tlsFailure ?? (notOffered ? 'starttls-not-supported' : classifyTlsFailure(s.reason));
    this.recordResult(d.domain, d.policy, target, s.localAddress, { failure, detail: s.reason });
  }

  /** Resolves once every recorded result is written. */
  flush(): Promise<void> {
    return this.recorder?.flush() ?? Promise.resolve();
  }

  private recordResult(domain: string, policy: StsPolicy | undefined, target: SmtpTarget, local: string | undefined, bad?: { failure: TlsFailureType; detail?: string }): void {
    if (!this.recorder) return;
    const fetchFailure = !policy ? this.sts?.failureFor(domain) : undefined;
    const result: TlsSessionResult = {
      policyDomain: domain,
      policyType: policy || fetchFailure ? 'sts' : 'no-policy-found',
      policyStrings: policy ? policy.text.split(/\r?\n/).map((l) => l.trim()).filter(Boolean) : [],
      mxHost: target.hostname,
      sendingMta: local ?? '',
      receivingIp: target.address,
      ok: !bad && !fetchFailure,
    };
    // Without a policy because the fetch failed, that failure is the session's result type (RFC 8460 section 4.3.2).
    const failure = fetchFailure ? { failure: fetchFailure.type, detail: fetchFailure.detail } : bad;
    if (failure) {
      result.failure = failure.failure;
      if (failure.detail) result.detail = failure.detail;
    }
    this.recorder.recordTlsResult(result);
  }
}
