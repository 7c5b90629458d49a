/**
 * smtpd-auth: message authentication of mail received over SMTP, with
 * mailauth: SPF of the MAIL FROM identity (the HELO identity for the null
 * sender) and of the HELO name, DKIM of every signature, DMARC (the author
 * domain's policy, the organisational domain for alignment from the public
 * suffix list), and ARC chain validation. Answers come through AuthDns
 * (dns_resolver_servers, cached).
 *
 * spf(ip, helo, sender) runs at MAIL FROM, for the restrictions
 * reject_spf_fail and defer_spf_temperror; verify(...) runs at the end of
 * DATA, once the whole message is in and before the reply, and gives the
 * value of the one Authentication-Results: header (RFC 8601) cleanup adds,
 * the DMARC outcome for reject_dmarc_policy, and the ARC chain's state for
 * a seal. Neither throws: a DNS failure is temperror, an unexpected error
 * is logged and reported as temperror.
 */
/** mailauth, loaded on first use (hundreds of milliseconds of CPU that a thread without these checks need not pay). */
const loadMailauth = (): Promise<typeof import('mailauth')> => import('mailauth');
import { isIP } from 'node:net';
import type { Logger } from '../../util/log.js';
import { AuthDns } from './smtpd-auth-dns.js';

export type SpfResult = 'pass' | 'fail' | 'softfail' | 'neutral' | 'none' | 'temperror' | 'permerror';

/** One SPF evaluation. */
export interface SpfOutcome {
  result: SpfResult;
  /** The Authentication-Results entry: "spf=pass (comment) smtp.mailfrom=..." */
  info: string;
  /** The domain's explanation (exp=) for a fail, when it published one. */
  explanation?: string;
}

/** The DMARC verdict on a message, as reject_dmarc_policy needs it. */
export interface DmarcOutcome {
  result: string;
  /** The policy in force: none, quarantine or reject (t=y already applied). */
  policy: string;
  /** The author (From:) domain. */
  domain: string;
}

/** Everything verify() found. */
export interface AuthOutcome {
  /** The Authentication-Results value: "authserv-id;\r\n dkim=...;\r\n spf=..." */
  value: string;
  dmarc?: DmarcOutcome;
  /** The ARC chain's state, a new seal's cv=: none, pass or fail. */
  arcCv: string;
}

/** The client as SMTP saw it. */
export interface AuthClient {
  ip: string;
  helo?: string;
  /** The envelope sender, "" for the null sender. */
  sender: string;
}

const SPF_RESULTS = new Set<string>(['pass', 'fail', 'softfail', 'neutral', 'none', 'temperror', 'permerror']);

export class SmtpdAuth {
  readonly dns: AuthDns;

  constructor(
    servers: string[],
    readonly authservId: string,
    private readonly log: Logger,
  ) {
    this.dns = new AuthDns(servers);
  }

  /** Loads mailauth now, so the first message does not wait for it (call when a check is configured). */
  warm(): void {
    loadMailauth().catch(() => undefined);
  }

  /** SPF for the MAIL FROM identity (the HELO one for the null sender). */
  async spf(client: AuthClient): Promise<SpfOutcome> {
    const ip = client.ip.replace(/^::ffff:/i, '');
    const helo = heloName(client.helo, ip);
    try {
      const { spf: spfCheck } = await loadMailauth();
      const r = await spfCheck({ sender: client.sender || undefined, ip, helo, mta: this.authservId, resolver: this.dns.resolve as never });
      const result = SPF_RESULTS.has(r.status.result) ? (r.status.result as SpfResult) : 'temperror';
      const out: SpfOutcome = { result, info: r.info };
      const explanation = (r as { explanation?: string }).explanation;
      if (explanation) out.explanation = explanation;
      return out;
    } catch (err) {
      this.log.warning(`SPF check for <${client.sender}> from [${ip}] failed: ${(err as Error).message}`);
      return { result: 'temperror', info: `spf=temperror (${this.authservId}: ${oneLine((err as Error).message)}) smtp.mailfrom=${client.sender || `postmaster@${helo}`}` };
    }
  }

  /** SPF for the HELO name alone (RFC 7208 section 2.3); undefined for an address literal or none. */
  private async heloSpf(client: AuthClient): Promise<string | undefined> {
    const ip = client.ip.replace(/^::ffff:/i, '');
    const helo = client.helo?.trim();
    if (!helo || helo.startsWith('[') || isIP(helo) || !helo.includes('.')) return undefined;
    const r = await this.spf({ ip, helo, sender: '' });
    return `spf=${r.result} smtp.helo=${helo}`;
  }

  /**
   * Verifies the whole message. `mailFrom` is the SPF outcome found at MAIL
   * FROM, reported as it was decided on; without one SPF is evaluated now.
   */
  async verify(content: Buffer, client: AuthClient, mailFrom?: SpfOutcome): Promise<AuthOutcome> {
    const ip = client.ip.replace(/^::ffff:/i, '');
    const helo = heloName(client.helo, ip);
    try {
      const { authenticate } = await loadMailauth();
      const [r, heloInfo] = await Promise.all([
        authenticate(content, { sender: client.sender || undefined, ip, helo, mta: this.authservId, resolver: this.dns.resolve as never, disableBimi: true }),
        this.heloSpf(client),
      ]);
      const parts: string[] = [];
      for (const row of r.dkim.results ?? []) parts.push(oneLine(row.info));
      parts.push(oneLine(mailFrom?.info ?? (r.spf ? r.spf.info : 'spf=none')));
      if (heloInfo && client.sender) parts.push(heloInfo);
      if (r.arc) parts.push(oneLine(r.arc.info ?? `arc=${r.arc.status.result}`));
      let dmarc: DmarcOutcome | undefined;
      if (r.dmarc) {
        dmarc = { result: r.dmarc.status.result, policy: r.dmarc.policy ?? 'none', domain: r.dmarc.status.header?.from ?? r.dmarc.domain };
        let info = oneLine(r.dmarc.info ?? `dmarc=${dmarc.result}`);
        // mailauth counts an aligned identifier whose check met a DNS failure as not passing, so
        // a passing message would fail DMARC (and be refused for good under p=reject) because a
        // lookup failed here. Its verdict is not known: temperror (RFC 7489 section 11.2).
        if (dmarc.result === 'fail' && alignedTemperror(r, dmarc.domain)) {
          dmarc.result = 'temperror';
          info = info.replace(/^dmarc=fail\b/, 'dmarc=temperror');
        }
        parts.push(info);
      }
      const out: AuthOutcome = { value: fold(this.authservId, parts), arcCv: arcCv(r.arc ? r.arc.status.result : 'none') };
      if (dmarc) out.dmarc = dmarc;
      return out;
    } catch (err) {
      this.log.warning(`message authentication from [${ip}] failed: ${(err as Error).message}`);
      return { value: fold(this.authservId, ['dkim=temperror', mailFrom ? oneLine(mailFrom.info) : 'spf=temperror', 'dmarc=temperror']), arcCv: 'fail' };
    }
  }
}

/**
 * An identifier that could have aligned with the author domain met a
 * temporary failure: a DKIM signature mailauth marks aligned, or SPF of a
 * MAIL FROM domain equal to the author domain or a parent or child of it
 * (relaxed alignment without the public suffix list: sibling subdomains are
 * not seen, and stay a fail as mailauth has it).
 */
function alignedTemperror(r: { dkim: { results?: Array<{ status: { result: string; aligned?: unknown } }> }; spf?: unknown }, author: string): boolean {
  if ((r.dkim.results ?? []).some((row) => row.status.result === 'temperror' && Boolean(row.status.aligned))) return true;
  const spf = r.spf as { domain?: string; status?: { result?: string } } | false | undefined;
  if (!spf || spf.status?.result !== 'temperror' || !spf.domain) return false;
  const a = author.toLowerCase();
  const d = spf.domain.toLowerCase();
  return a === d || a.endsWith(`.${d}`) || d.endsWith(`.${a}`);
}

/** The HELO name for SPF: the client's, else its address in brackets. */
function heloName(helo: string | undefined, ip: string): string {
  const h = helo?.trim();
  return h ? h : `[${ip}]`;
}

/** ARC's result as a seal's cv=: none, pass, or fail for anything else. */
function arcCv(result: string): string {
  return result === 'none' || result === 'pass' ? result : 'fail';
}

/** mailauth folds long entries; one entry per line here. */
function oneLine(text: string): string {
  return text.replace(/\r?\n[ \t]*/g, ' ').trim();
}

/** "id;\r\n entry;\r\n entry": each result on a line of its own, as mailauth writes it. */
function fold(authservId: string, parts: string[]): string {
  return `${authservId};\r\n ${parts.join(';\r\n ')}`;
}
