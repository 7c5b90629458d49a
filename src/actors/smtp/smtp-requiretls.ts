/**
 * smtp-requiretls: RFC 8689 on the smtp client's side, as Postfix 3.11
 * decides it with requiretls_enable, smtp_requiretls_policy and
 * tls_required_enable.
 *
 *   readRequireTlsSettings(config): the three parameters.
 *   demandOf(req, settings): what this message asks of its next hop:
 *     'enforce' (verified TLS to a server that offers REQUIRETLS),
 *     'opportunistic+starttls' (TLS), 'opportunistic' (nothing more),
 *     'tls-required-no' (a "TLS-Required: No" header without REQUIRETLS:
 *     TLS where it works, no certificate checks, plain text when it fails),
 *     or 'none' (an ordinary message).
 *   requireTlsPolicy(policy, demand): the TLS policy a demand turns a
 *     destination's policy into. 'enforce' keeps a policy that verifies the
 *     certificate (dane, dane-only, fingerprint, verify, secure) and makes
 *     any other `secure` with match=hostname: the MX name is checked against
 *     smtp_tls_CAfile. (Postfix instead returns the message when
 *     the destination's level does not match certificates.)
 *   cacheTagOf(demand): the connection cache tag of one delivery; sessions
 *     opened for a demand are cached
 *     apart, so an unverified session never carries REQUIRETLS mail and a
 *     plain-text one opened for "TLS-Required: No" never carries other mail.
 *   sessionVerdict(demand, session): after EHLO, whether this server may
 *     take the message; a refusal is a bounce with Postfix's texts (5.7.10
 *     no TLS or no trusted / matching certificate, 5.7.30 no REQUIRETLS).
 *   requireTlsSessionFailure(demand, failure): a session that failed for
 *     TLS (STARTTLS not offered or refused, a failed handshake or
 *     certificate check) is a 5.7.10 bounce for REQUIRETLS mail, not a
 *     deferral (RFC 8689 section 5); other failures are kept as they are.
 * The agent tries the next MX host after a refusal, as Postfix does; the
 * last refusal decides the recipients' outcome. Nothing here throws.
 */
import type { MainConfig } from '../../config/main-config.js';
import { withParameterDefaults } from '../../config/parameter-defaults.js';
import type { DeliveryRequest } from '../../protocol/protocol.js';
import type { SessionFailure, SmtpSession } from './smtp-session.js';
import type { TlsPolicy } from './smtp-tls-policy-types.js';

/** smtp_requiretls_policy's words. */
export type RequireTlsPolicyWord = 'enforce' | 'opportunistic+starttls' | 'opportunistic';

export interface RequireTlsSettings {
  /** requiretls_enable: with no, a queued REQUIRETLS message is sent as any other. */
  enable: boolean;
  policy: RequireTlsPolicyWord;
  /** tls_required_enable: "TLS-Required: No" relaxes TLS. */
  tlsRequiredEnable: boolean;
}

export type RequireTlsDemand = RequireTlsPolicyWord | 'tls-required-no' | 'none';

export function readRequireTlsSettings(input: MainConfig): RequireTlsSettings {
  const c = withParameterDefaults(input, ['requiretls_enable', 'smtp_requiretls_policy', 'tls_required_enable']);
  const word = c.get('smtp_requiretls_policy').trim().toLowerCase();
  // check refuses any other word; a record that slipped past it is held to the strictest.
  const policy: RequireTlsPolicyWord = word === 'opportunistic' || word === 'opportunistic+starttls' ? word : 'enforce';
  return { enable: c.bool('requiretls_enable'), policy, tlsRequiredEnable: c.bool('tls_required_enable') };
}

export function demandOf(req: Pick<DeliveryRequest, 'requiretls' | 'tlsRequiredNo'>, s: RequireTlsSettings): RequireTlsDemand {
  if (req.requiretls && s.enable) return s.policy;
  // RFC 8689 section 4.1: with REQUIRETLS, the header is ignored.
  if (req.tlsRequiredNo && s.tlsRequiredEnable) return 'tls-required-no';
  return 'none';
}

/** True when the message goes out with REQUIRETLS on MAIL FROM wherever the server offers it. */
export function passesRequireTls(demand: RequireTlsDemand): boolean {
  return demand === 'enforce' || demand === 'opportunistic+starttls' || demand === 'opportunistic';
}

const MATCHING_LEVELS = new Set(['dane', 'dane-only', 'fingerprint', 'verify', 'secure']);

export function requireTlsPolicy(policy: TlsPolicy, demand: RequireTlsDemand): TlsPolicy {
  if (demand === 'enforce') {
    if (MATCHING_LEVELS.has(policy.level) && (policy.level !== 'dane' || (policy.tlsa?.length ?? 0) > 0)) return policy;
    return { level: 'secure', source: 'requiretls', match: ['hostname'] };
  }
  if (demand === 'opportunistic+starttls' && (policy.level === 'none' || policy.level === 'may')) {
    return { ...policy, level: 'encrypt', source: 'requiretls' };
  }
  // RFC 8689 section 4.1 and Postfix: "TLS-Required: No" sets aside DANE, MTA-STS and certificate checks.
  if (demand === 'tls-required-no' && policy.level !== 'none') return { level: 'may', source: policy.source, match: [] };
  return policy;
}

/** The connection cache tag of a delivery with this demand: sessions opened for a demand are cached apart. */
export function cacheTagOf(demand: RequireTlsDemand): string {
  return demand === 'none' || demand === 'opportunistic' ? '' : `/${demand}`;
}

/** What sessionVerdict looks at. */
export interface SessionTls {
  peer: string;
  relay: string;
  /** STARTTLS succeeded. */
  tls: boolean;
  /** The certificate chain was trusted and matched the name (the handshake checked it). */
  verified: boolean;
  /** EHLO keywords, upper case. */
  extensions: readonly string[];
}

export function sessionTls(s: SmtpSession): SessionTls {
  // The policy's own check of the chain and the names (checkPeer) when it ran; else the handshake's.
  const verified = s.tlsCheck ? s.tlsCheck.ok && (s.tlsCheck.trust === 'Verified' || s.tlsCheck.trust === 'Trusted') : s.client.verified;
  return { peer: s.peer, relay: s.relay, tls: s.tls, verified, extensions: s.client.extensions };
}

/** A bounce (as a session failure, so the next MX host is tried) or undefined when the server may take the message. */
export function sessionVerdict(demand: RequireTlsDemand, s: SessionTls): SessionFailure | undefined {
  if (demand !== 'enforce' && demand !== 'opportunistic+starttls') return undefined;
  if (!s.tls) return refusal('5.7.10', `Sender requested REQUIRETLS, but TLS service was not offered by host ${s.peer}`, s.relay);
  if (demand !== 'enforce') return undefined;
  if (!s.verified) return refusal('5.7.10', `Sender requested REQUIRETLS, but no trusted server certificate was found. The last attempted server was ${s.peer}`, s.relay);
  if (!s.extensions.includes('REQUIRETLS')) {
    return refusal('5.7.30', `Sender requested REQUIRETLS, but no server was found that supports REQUIRETLS. The last attempted server was ${s.peer}`, s.relay);
  }
  return undefined;
}

/** A failed session seen through the demand: TLS failures of REQUIRETLS mail bounce with 5.7.10. */
export function requireTlsSessionFailure(demand: RequireTlsDemand, f: SessionFailure): SessionFailure {
  if (demand !== 'enforce' && demand !== 'opportunistic+starttls') return f;
  const peer = /host (\S+\[[^\]]*\])/.exec(f.reason)?.[1] ?? f.relay;
  if (f.command === 'STARTTLS' && f.reply !== undefined) {
    return { ...refusal('5.7.10', `Sender requested REQUIRETLS, but host ${peer} refused to start TLS: ${f.reply}`, f.relay), reply: f.reply, command: f.command };
  }
  if (f.dsn === '4.7.5' && f.tlsFailure && f.tlsFailure !== 'starttls-not-supported') {
    const which = f.tlsFailure === 'certificate-host-mismatch' ? 'matching' : 'trusted';
    return refusal('5.7.10', `Sender requested REQUIRETLS, but no ${which} server certificate was found. The last attempted server was ${peer}`, f.relay);
  }
  if (f.dsn === '4.7.4') return refusal('5.7.10', `Sender requested REQUIRETLS, but TLS service was not offered by host ${peer}`, f.relay);
  if (f.tlsHandshakeFailed) {
    // Node's words for a certificate that is trusted but names another host.
    const which = /altnames|does not match|hostname/i.test(f.reason) ? 'matching' : 'trusted';
    return refusal('5.7.10', `Sender requested REQUIRETLS, but no ${which} server certificate was found. The last attempted server was ${peer}`, f.relay);
  }
  return f;
}

function refusal(dsn: string, reason: string, relay: string): SessionFailure {
  return { state: 'bounced', dsn, reason, relay, spoke: true, tlsHandshakeFailed: false };
}
