/**
 * smtpd-policy: Postfix's SMTP access restrictions. With smtpd_delay_reject
 * (always on here) the client, helo, sender, relay and recipient lists are
 * all evaluated at RCPT TO, in that order; smtpd_data_restrictions at DATA,
 * smtpd_end_of_data_restrictions once the message content is in. With
 * smtpd_reject_unlisted_sender (after the sender list) and
 * smtpd_reject_unlisted_recipient (after all lists), an address in a
 * virtual domain that no table lists is refused, as Postfix's implicit
 * reject_unlisted_sender / reject_unlisted_recipient.
 * In each list the first restriction that permits ends that list, the first
 * that rejects ends the evaluation with its reply, DUNNO goes on; a
 * warn_if_reject prefix turns the next reject into a logged warning. A
 * restriction class (smtpd_restriction_classes) is evaluated as a list in
 * place of its name, also when an access table answers with it; a bare
 * "type:table" stands for the stage's check_*_access.
 *
 * After the lists, the recipient tables (Postfix's check_rcpt_maps): an
 * address that a canonical or virtual alias table rewrites is accepted; an
 * unknown one in a virtual alias, virtual mailbox, relay (with
 * relay_recipient_maps) or local (with local_recipient_maps) domain is
 * refused with 5.1.1. local_recipient_maps' tables that alias_maps also
 * names are alias files, read in aliases(5) format as local(8) reads them;
 * unix:passwd.byname asks the system's users.
 *
 * Tables are opened once, at construction. Error behaviour: a broken table
 * or an unknown restriction answers "451 4.3.5 Server configuration error"
 * and logs a warning; DNS trouble gives a 4xx; nothing throws to the caller.
 * A lookup that fails (a pattern out of its time budget) answers as
 * Postfix's smtpd_check does: in a check_*_access table "451 4.3.5 <name>:
 * Client host|Helo command|Sender address|Recipient address rejected:
 * Server configuration error", in the recipient maps of
 * reject_unlisted_recipient "451 4.3.0 <address>: Temporary lookup
 * failure"; both log "TABLE lookup error for "KEY"" first. The session goes
 * on either way.
 */
import { openTable, TableLookupError, type LookupTable } from '../../config/lookup-table.js';
import { openAliasTable } from '../../config/table-aliases.js';
import { isRestrictionTable, RESTRICTIONS_WITH_ARGUMENT } from '../../config/restriction-names.js';
import { LOOKUP_BUDGET_MS, withMatchBudget } from '../../config/table-budget.js';
import { mailAddrFind } from '../../global/mail-addr-find.js';
import { compileDomainList, compileHostList, lookupClient, lookupDomain, lookupEmail, type DomainMatcher, type HostMatcher } from '../../config/access-lookup.js';
import type { Logger } from '../../util/log.js';
import { parseReply, smtpError, type SmtpReplyError } from '../../util/smtp-reply.js';
import type { SmtpdDns } from './smtpd-dns.js';
import type { DmarcOutcome, SpfOutcome } from './smtpd-auth.js';
import type { SmtpdSettings } from './smtpd-settings.js';

/** What the restrictions see of a session at the time of the check. */
export interface PolicyContext {
  clientName: string;
  clientAddr: string;
  helo?: string;
  /** Envelope sender, "" for the null sender; undefined before MAIL. */
  sender?: string;
  recipient?: string;
  saslUser?: string;
  /** SPF of the MAIL FROM identity, evaluated once per transaction (reject_spf_fail, defer_spf_temperror). */
  spf?: () => Promise<SpfOutcome>;
  /** At the end of DATA: DMARC's verdict on the message (reject_dmarc_policy). */
  dmarc?: DmarcOutcome;
  /** Set by reject_dmarc_policy when the message is to go on hold (p=quarantine, dmarc_quarantine_action = hold). */
  hold?: string;
}

type Stage = 'client' | 'helo' | 'sender' | 'recipient' | 'data' | 'eod';

/**
 * Why a restriction refused, as a stable code (the `reason` label of the
 * smtpd_rejected metric): the restriction's own kind where it has one, else
 * the stage whose list refused (an access table, reject, defer).
 */
export type RejectReason =
  | 'relay_access_denied'
  | 'unknown_recipient'
  | 'unknown_sender'
  | 'non_fqdn'
  | 'unknown_domain'
  | 'rbl'
  | 'invalid_helo'
  | 'config_error'
  | 'lookup_failure'
  | 'spf_fail'
  | 'spf_temperror'
  | 'dmarc_policy'
  | 'end_of_data_rejected'
  | `${Exclude<Stage, 'eod'>}_rejected`;

/** The reason code of a refusal by a stage's own list (reject, defer, an access table). */
function stageReason(stage: Stage): RejectReason {
  return stage === 'eod' ? 'end_of_data_rejected' : `${stage}_rejected`;
}

/** The outcome: a refusal (when any) with its reason code, and the replies warn_if_reject turned into warnings. */
export interface PolicyVerdict {
  reject?: SmtpReplyError;
  /** Set with `reject`. */
  reason?: RejectReason;
  warnings: SmtpReplyError[];
}

type Refusal = { error: SmtpReplyError; reason: RejectReason };
type Step = { kind: 'permit' } | { kind: 'dunno' } | ({ kind: 'reject' } & Refusal);

const PERMIT: Step = { kind: 'permit' };
const DUNNO: Step = { kind: 'dunno' };

/** The check_*_access a bare "type:table" stands for in each stage (Postfix's default ACL). */
const STAGE_ACCESS: Record<Stage, string | undefined> = {
  client: 'check_client_access',
  helo: 'check_helo_access',
  sender: 'check_sender_access',
  recipient: 'check_recipient_access',
  data: undefined,
  eod: undefined,
};

/** How deep restriction classes may nest (a class naming itself must not loop). */
const CLASS_DEPTH = 10;

export class SmtpdPolicy {
  private readonly tables = new Map<string, LookupTable>();
  /** Specs that failed to open (already logged): not tried again. */
  private readonly broken = new Set<string>();

  constructor(
    private readonly settings: SmtpdSettings,
    private readonly baseDir: string,
    private readonly dns: SmtpdDns,
    private readonly log: Logger,
  ) {
    const s = settings;
    const lists = [s.clientRestrictions, s.heloRestrictions, s.senderRestrictions, s.relayRestrictions, s.recipientRestrictions, s.dataRestrictions, s.endOfDataRestrictions];
    for (const list of [...lists, ...s.restrictionClasses.values()]) {
      for (let i = 0; i < list.length; i++) {
        if (/^check_(client|helo|sender|recipient)_access$/.test(list[i]) && list[i + 1]) this.open(list[i + 1]);
        else if (isRestrictionTable(list[i]) && !RESTRICTIONS_WITH_ARGUMENT.has((list[i - 1] ?? '').toLowerCase())) this.open(list[i]);
      }
    }
    const recipientTables = [s.virtualMailboxMaps, s.virtualAliasMaps, s.canonicalMaps, s.recipientCanonicalMaps, s.relayRecipientMaps, s.localRecipientMaps];
    for (const list of [...recipientTables, s.saslPasswordMaps]) {
      for (const entry of list) if (isTableSpec(entry)) this.open(entry);
    }
    const used = (name: string): boolean => [...lists, ...s.restrictionClasses.values()].some((l) => l.some((r) => r.toLowerCase() === name));
    this.usesSpf = used('reject_spf_fail') || used('defer_spf_temperror');
    this.usesDmarc = used('reject_dmarc_policy');
    this.mynetworks = this.hostList('mynetworks', s.mynetworks);
    this.eventLimitExceptions = this.hostList('smtpd_client_event_limit_exceptions', s.eventLimitExceptions);
    this.bareNewlineExclusions = this.hostList('smtpd_forbid_bare_newline_exclusions', s.bareNewlineExclusions);
    this.mydestination = this.domainList('mydestination', s.mydestination, false);
    this.relayDomains = this.domainList('relay_domains', s.relayDomains, true);
    this.virtualMailboxDomains = this.domainList('virtual_mailbox_domains', s.virtualMailboxDomains, false);
    this.virtualAliasDomains = this.domainList('virtual_alias_domains', s.virtualAliasDomains, false);
    this.recipientStages = [
      ['client', s.clientRestrictions],
      ['helo', s.heloRestrictions],
      ['sender', s.senderRestrictions],
      ['recipient', s.relayRestrictions],
      ['recipient', s.recipientRestrictions],
    ];
  }

  /** A list names reject_spf_fail or defer_spf_temperror: SPF is evaluated at MAIL FROM. */
  readonly usesSpf: boolean;
  /** A list names reject_dmarc_policy: DMARC is evaluated at the end of DATA. */
  readonly usesDmarc: boolean;
  /** mynetworks, as compiled at construction. */
  readonly mynetworks: HostMatcher;
  /** smtpd_client_event_limit_exceptions. */
  readonly eventLimitExceptions: HostMatcher;
  /** smtpd_forbid_bare_newline_exclusions. */
  readonly bareNewlineExclusions: HostMatcher;
  private readonly mydestination: DomainMatcher;
  private readonly relayDomains: DomainMatcher;
  private readonly virtualMailboxDomains: DomainMatcher;
  private readonly virtualAliasDomains: DomainMatcher;
  /** The lists checkRecipient runs, in order, with the stage each one's refusals name. */
  private readonly recipientStages: ReadonlyArray<readonly [Stage, string[]]>;

  private hostList(param: string, list: string[]): HostMatcher {
    try {
      return compileHostList(list, this.baseDir);
    } catch (err) {
      this.log.warning(`${param}: ${(err as Error).message}; the list matches nothing`);
      return { match: () => false };
    }
  }

  private domainList(param: string, list: string[], subdomains: boolean): DomainMatcher {
    try {
      return compileDomainList(list, this.baseDir, subdomains);
    } catch (err) {
      this.log.warning(`${param}: ${(err as Error).message}; the list matches nothing`);
      return { match: () => false };
    }
  }

  /** The opened table for a spec (opened now when not yet); undefined when it cannot be opened. */
  table(spec: string): LookupTable | undefined {
    return this.tables.get(spec) ?? this.open(spec);
  }

  /** Runs client, helo, sender, relay and recipient restrictions for one RCPT TO. */
  async checkRecipient(ctx: PolicyContext): Promise<PolicyVerdict> {
    const warnings: SmtpReplyError[] = [];
    for (const [stage, list] of this.recipientStages) {
      const refusal = await this.runList(stage, list, ctx, warnings);
      if (refusal) return { reject: refusal.error, reason: refusal.reason, warnings };
      if (stage === 'sender' && this.settings.rejectUnlistedSender && ctx.sender) {
        const unlistedSender = this.unlistedRecipient(ctx.sender, 'Sender');
        if (unlistedSender) return { reject: unlistedSender.error, reason: unlistedSender.reason, warnings };
      }
    }
    const unlisted = this.settings.rejectUnlistedRecipient ? this.unlistedRecipient(ctx.recipient ?? '') : undefined;
    if (unlisted) return { reject: unlisted.error, reason: unlisted.reason, warnings };
    return { warnings };
  }

  /** Runs smtpd_end_of_data_restrictions after the message content (the recipient is set only when there is one). */
  async checkEndOfData(ctx: PolicyContext): Promise<PolicyVerdict> {
    const warnings: SmtpReplyError[] = [];
    const refusal = await this.runList('eod', this.settings.endOfDataRestrictions, ctx, warnings);
    return refusal ? { reject: refusal.error, reason: refusal.reason, warnings } : { warnings };
  }

  /** Runs smtpd_data_restrictions at DATA. */
  async checkData(ctx: PolicyContext): Promise<PolicyVerdict> {
    const warnings: SmtpReplyError[] = [];
    const refusal = await this.runList('data', this.settings.dataRestrictions, ctx, warnings);
    return refusal ? { reject: refusal.error, reason: refusal.reason, warnings } : { warnings };
  }

  /** Whether a domain is one of ours or one we relay for (mydestination, virtual, relay_domains). */
  private isAuthorizedDestination(domain: string): boolean {
    return this.isLocalOrVirtual(domain) || this.relayDomains.match(domain);
  }

  private async runList(stage: Stage, list: string[], ctx: PolicyContext, warnings: SmtpReplyError[]): Promise<Refusal | undefined> {
    const step = await this.evaluate(stage, list, ctx, warnings, 0);
    return step.kind === 'reject' ? { error: step.error, reason: step.reason } : undefined;
  }

  /** One list or restriction class: the first permit or reject decides; DUNNO when none does. */
  private async evaluate(stage: Stage, list: string[], ctx: PolicyContext, warnings: SmtpReplyError[], depth: number): Promise<Step> {
    let warnOnly = false;
    for (let i = 0; i < list.length; i++) {
      let name = list[i].toLowerCase();
      if (name === 'warn_if_reject') {
        warnOnly = true;
        continue;
      }
      let arg: string | undefined;
      if (isRestrictionTable(list[i])) {
        const access = STAGE_ACCESS[stage];
        if (!access) return { kind: 'reject', error: this.configError(`specify a check_*_access restriction before the table ${list[i]}`), reason: 'config_error' };
        name = access;
        arg = list[i];
      } else if (RESTRICTIONS_WITH_ARGUMENT.has(name)) {
        arg = list[++i];
        if (arg === undefined) return { kind: 'reject', error: this.configError(`${name} requires an argument`), reason: 'config_error' };
      }
      const step = await this.restriction(stage, name, arg, ctx, depth, warnings);
      if (step.kind === 'permit') return PERMIT;
      if (step.kind === 'reject') {
        if (warnOnly) warnings.push(step.error);
        else return step;
      }
      warnOnly = false;
    }
    return DUNNO;
  }

  private async restriction(stage: Stage, name: string, arg: string | undefined, ctx: PolicyContext, depth = 0, warnings: SmtpReplyError[] = []): Promise<Step> {
    const c = this.settings.codes;
    const rcpt = ctx.recipient ?? '';
    const sender = ctx.sender ?? '';
    switch (name) {
      case 'permit':
        return PERMIT;
      case 'dunno':
        return DUNNO;
      case 'reject':
        return this.reject(stage, ctx, c.reject, 'Access denied');
      case 'defer':
        return this.reject(stage, ctx, c.defer, 'Try again later');
      case 'permit_mynetworks':
        return this.mynetworks.match(ctx.clientName, ctx.clientAddr) ? PERMIT : DUNNO;
      case 'permit_sasl_authenticated':
        return ctx.saslUser ? PERMIT : DUNNO;
      case 'permit_auth_destination':
        if (!ctx.recipient) return DUNNO;
        return !rcpt.includes('@') || this.isAuthorizedDestination(domainOf(rcpt)) ? PERMIT : DUNNO;
      case 'reject_unauth_destination':
      case 'defer_unauth_destination': {
        if (!ctx.recipient || !rcpt.includes('@') || this.isAuthorizedDestination(domainOf(rcpt))) return DUNNO;
        const code = name === 'reject_unauth_destination' ? c.relayReject : 454;
        return { kind: 'reject', error: smtpError(code, dsnFor(code, '7.1'), `<${rcpt}>: Relay access denied`), reason: 'relay_access_denied' };
      }
      case 'check_client_access':
        return this.access('client', arg!, ctx, (t) => lookupClient(t, ctx.clientName, ctx.clientAddr), depth, warnings);
      case 'check_helo_access':
        if (!ctx.helo) return DUNNO;
        return this.access('helo', arg!, ctx, (t) => lookupDomain(t, ctx.helo!.replace(/^\[|\]$/g, '')), depth, warnings);
      case 'check_sender_access':
        if (ctx.sender === undefined) return DUNNO;
        return this.access('sender', arg!, ctx, (t) => (sender === '' ? t.get(this.settings.nullAccessKey) : lookupEmail(t, sender)), depth, warnings);
      case 'check_recipient_access':
        if (!ctx.recipient) return DUNNO;
        return this.access('recipient', arg!, ctx, (t) => lookupEmail(t, rcpt), depth, warnings);
      case 'reject_non_fqdn_sender':
        if (!sender || isFqdnAddress(sender)) return DUNNO;
        return { kind: 'reject', error: smtpError(c.nonFqdn, dsnFor(c.nonFqdn, '5.2'), `<${sender}>: Sender address rejected: need fully-qualified address`), reason: 'non_fqdn' };
      case 'reject_non_fqdn_recipient':
        if (!rcpt || isFqdnAddress(rcpt)) return DUNNO;
        return { kind: 'reject', error: smtpError(c.nonFqdn, dsnFor(c.nonFqdn, '5.2'), `<${rcpt}>: Recipient address rejected: need fully-qualified address`), reason: 'non_fqdn' };
      case 'reject_non_fqdn_helo_hostname':
      case 'reject_non_fqdn_hostname':
        if (!ctx.helo || isFqdnHost(ctx.helo)) return DUNNO;
        return { kind: 'reject', error: smtpError(c.nonFqdn, dsnFor(c.nonFqdn, '5.2'), `<${ctx.helo}>: Helo command rejected: need fully-qualified hostname`), reason: 'non_fqdn' };
      case 'reject_invalid_helo_hostname':
      case 'reject_invalid_hostname':
        if (!ctx.helo || isValidHeloName(ctx.helo)) return DUNNO;
        return { kind: 'reject', error: smtpError(c.invalidHostname, dsnFor(c.invalidHostname, '5.2'), `<${ctx.helo}>: Helo command rejected: Invalid name`), reason: 'invalid_helo' };
      case 'reject_unknown_sender_domain':
        if (!sender) return DUNNO;
        return this.unknownDomain(sender, 'Sender', '1.8');
      case 'reject_unknown_recipient_domain':
        if (!rcpt || this.isLocalOrVirtual(domainOf(rcpt))) return DUNNO;
        return this.unknownDomain(rcpt, 'Recipient', '1.2');
      case 'reject_rbl_client':
        return this.rbl(arg!, ctx);
      case 'reject_unlisted_recipient': {
        const refusal = this.unlistedRecipient(rcpt);
        return refusal ? { kind: 'reject', ...refusal } : DUNNO;
      }
      case 'reject_spf_fail':
      case 'defer_spf_temperror':
        return this.spfStep(name, ctx);
      case 'reject_dmarc_policy':
        return this.dmarcStep(ctx);
      case 'reject_unlisted_sender': {
        const refusal = sender ? this.unlistedRecipient(sender, 'Sender') : undefined;
        return refusal ? { kind: 'reject', ...refusal } : DUNNO;
      }
      default: {
        const cls = this.settings.restrictionClasses.get(name);
        if (cls && depth < CLASS_DEPTH) return this.evaluate(stage, cls, ctx, warnings, depth + 1);
        return { kind: 'reject', error: this.configError(`unknown restriction "${name}"`), reason: 'config_error' };
      }
    }
  }

  /** A check_*_access lookup; its refusals name what was looked up (the client, the sender...) whatever list it is in, as Postfix's. */
  private async access(
    stage: Stage,
    spec: string,
    ctx: PolicyContext,
    find: (t: LookupTable) => string | undefined,
    depth: number,
    warnings: SmtpReplyError[],
  ): Promise<Step> {
    const table = this.table(spec);
    if (!table) return { kind: 'reject', error: this.configError(`table ${spec} is unavailable`), reason: 'config_error' };
    let value: string | undefined;
    try {
      // One budget for all the keys a restriction tries (address, domain, parents, user@).
      value = table.backtracking ? withMatchBudget(LOOKUP_BUDGET_MS, () => find(table)) : find(table);
    } catch (err) {
      this.log.warning((err as Error).message);
      this.log.warning(`${spec} lookup error for "${lookupName(stage, ctx)}"`);
      return { kind: 'reject', error: smtpError(451, '4.3.5', `${subject(stage, ctx)}: Server configuration error`), reason: 'config_error' };
    }
    if (value === undefined) return DUNNO;
    const v = value.trim();
    const word = (v.split(/\s+/)[0] ?? '').toUpperCase();
    const rest = v.slice(word.length).trim();
    const c = this.settings.codes;
    if (word === 'OK' || (/^\d+$/.test(v) && !/^[45]\d\d$/.test(v))) return PERMIT;
    if (word === 'DUNNO' || word === '') return DUNNO;
    if (word === 'REJECT') return this.reject(stage, ctx, c.accessReject, rest || 'Access denied');
    if (word === 'DEFER' || word === 'DEFER_IF_REJECT' || word === 'DEFER_IF_PERMIT') return this.reject(stage, ctx, c.accessDefer, rest || 'Access denied');
    const reply = parseReply(v);
    if (reply) return { kind: 'reject', error: smtpError(reply.code, reply.dsn, `${subject(stage, ctx)}: ${reply.text || 'Access denied'}`), reason: stageReason(stage) };
    if (word === 'WARN' || word === 'INFO') {
      this.log.info(`${word.toLowerCase()}: ${stage}: ${subject(stage, ctx)}: ${rest}`);
      return DUNNO;
    }
    if (/^[a-z_]+$/i.test(word) && depth < 4) {
      // A restriction name as the result: evaluate it in the same stage.
      const parts = v.split(/[\s,]+/);
      return this.restriction(stage, parts[0].toLowerCase(), parts[1], ctx, depth + 1, warnings);
    }
    this.log.warning(`${spec}: unsupported access result "${word}" ignored`);
    return DUNNO;
  }

  private reject(stage: Stage, ctx: PolicyContext, code: number, text: string): Step {
    return { kind: 'reject', error: smtpError(code, dsnFor(code, '7.1'), `${subject(stage, ctx)}: ${text}`), reason: stageReason(stage) };
  }

  private async unknownDomain(address: string, who: 'Sender' | 'Recipient', detail: string): Promise<Step> {
    const domain = domainOf(address);
    if (!domain || domain.startsWith('[')) return DUNNO;
    const answer = await this.dns.domainExists(domain);
    if (answer === 'found') return DUNNO;
    const code = answer === 'tempfail' ? 450 : this.settings.codes.unknownAddress;
    return { kind: 'reject', error: smtpError(code, dsnFor(code, detail), `<${address}>: ${who} address rejected: Domain not found`), reason: 'unknown_domain' };
  }

  private async rbl(arg: string, ctx: PolicyContext): Promise<Step> {
    const [list, want] = arg.split('=');
    const answers = await this.dns.rblLookup(ctx.clientAddr, list);
    const hit = want ? answers.some((a) => matchRblValue(a, want)) : answers.length > 0;
    if (!hit) return DUNNO;
    const code = this.settings.codes.rbl;
    return { kind: 'reject', error: smtpError(code, dsnFor(code, '7.1'), `Service unavailable; Client host [${ctx.clientAddr}] blocked using ${list}`), reason: 'rbl' };
  }

  /**
   * reject_spf_fail: SPF fail of the MAIL FROM identity (the HELO identity
   * for the null sender) is refused, "550 5.7.23" (RFC 7372's "SPF
   * validation failed") with the domain's explanation when it gave one;
   * defer_spf_temperror: a temporary DNS failure is "451 4.7.24" (the
   * client tries again). Other results (softfail, neutral, permerror, none,
   * pass) go on: they are recorded in Authentication-Results.
   */
  private async spfStep(name: string, ctx: PolicyContext): Promise<Step> {
    if (ctx.sender === undefined || !ctx.spf) return DUNNO;
    const spf = await ctx.spf();
    const who = `<${ctx.sender}>: Sender address rejected`;
    if (name === 'reject_spf_fail' && spf.result === 'fail') {
      const why = spf.explanation ? `: ${spf.explanation.replace(/[\r\n]+/g, ' ').slice(0, 200)}` : '';
      return { kind: 'reject', error: smtpError(550, '5.7.23', `${who}: SPF fail - not authorized${why}`), reason: 'spf_fail' };
    }
    if (name === 'defer_spf_temperror' && spf.result === 'temperror') {
      return { kind: 'reject', error: smtpError(451, '4.7.24', `${who}: SPF temporary error - try again later`), reason: 'spf_temperror' };
    }
    return DUNNO;
  }

  /**
   * reject_dmarc_policy (smtpd_end_of_data_restrictions): a DMARC fail of a
   * domain whose policy is p=reject is refused with "550 5.7.1"; with
   * p=quarantine the message goes on hold (dmarc_quarantine_action = hold)
   * or is accepted (accept). Other results go on.
   */
  private dmarcStep(ctx: PolicyContext): Step {
    const d = ctx.dmarc;
    if (!d || d.result !== 'fail') return DUNNO;
    if (d.policy === 'reject') {
      return { kind: 'reject', error: smtpError(550, '5.7.1', `<END-OF-MESSAGE>: End-of-data rejected: rejected by DMARC policy of ${d.domain}`), reason: 'dmarc_policy' };
    }
    if (d.policy === 'quarantine' && this.settings.dmarcQuarantineHold) ctx.hold = `DMARC policy of ${d.domain} is quarantine`;
    return DUNNO;
  }

  /**
   * Postfix's check_rcpt_maps, after the lists: a known address of its
   * class's table, or one that a canonical or virtual alias table rewrites,
   * passes; an unknown one in a domain with a recipient table is refused (a
   * sender, for reject_unlisted_sender, with X.1.0).
   */
  private unlistedRecipient(rcpt: string, who: 'Recipient' | 'Sender' = 'Recipient'): Refusal | undefined {
    if (!rcpt) return undefined;
    const s = this.settings;
    const domain = domainOf(rcpt);
    try {
      if (this.rewritten(rcpt)) return undefined;
      if (!domain || this.mydestination.match(domain)) {
        if (s.localRecipientMaps.length === 0) return undefined;
        if (this.known(rcpt, s.localRecipientMaps, true)) return undefined;
        return this.userUnknown(rcpt, s.codes.unknownLocalRecipient, 'local recipient', who);
      }
      if (this.virtualMailboxDomains.match(domain)) {
        if (this.known(rcpt, s.virtualMailboxMaps, false)) return undefined;
        return this.userUnknown(rcpt, s.codes.unknownVirtualMailbox, 'virtual mailbox', who);
      }
      if (this.virtualAliasDomains.match(domain)) return this.userUnknown(rcpt, s.codes.unknownVirtualAlias, 'virtual alias', who);
      if (this.relayDomains.match(domain) && s.relayRecipientMaps.length > 0) {
        if (this.known(rcpt, s.relayRecipientMaps, false)) return undefined;
        return this.userUnknown(rcpt, s.codes.unknownRelayRecipient, 'relay recipient', who);
      }
    } catch (err) {
      // Postfix's reject_dict_retry: the recipient may exist; the client tries again.
      this.log.warning((err as Error).message);
      return lookupFailure(rcpt);
    }
    return undefined;
  }

  /** "550 5.1.1 <rcpt>: Recipient address rejected: User unknown in TABLE table" (show_user_unknown_table_name). */
  private userUnknown(rcpt: string, code: number, table: string, who: 'Recipient' | 'Sender' = 'Recipient'): Refusal {
    const where = this.settings.showUnknownTable ? ` in ${table} table` : '';
    const error = smtpError(code, dsnFor(code, who === 'Sender' ? '1.0' : '1.1'), `<${rcpt}>: ${who} address rejected: User unknown${where}`);
    return { error, reason: who === 'Sender' ? 'unknown_sender' : 'unknown_recipient' };
  }

  /**
   * True when a recipient_canonical_maps, canonical_maps or virtual_alias_maps
   * entry rewrites the address (the keys cleanup's rewriting tries).
   */
  private rewritten(rcpt: string): boolean {
    const s = this.settings;
    const domain = domainOf(rcpt);
    // The local-part keys apply in a local domain, as cleanup's rewriting tries them.
    const local = !domain || this.mydestination.match(domain);
    return this.known(rcpt, s.recipientCanonicalMaps, local) || this.known(rcpt, s.canonicalMaps, local) || this.known(rcpt, s.virtualAliasMaps, local);
  }

  /**
   * True when one of the tables lists the address, in Postfix's
   * mail_addr_find order (global/mail-addr-find): user+ext@domain,
   * user@domain, then for a local domain user+ext and user, then @domain.
   * A domain-only key (a virtual alias domain's own line) does not count.
   */
  private known(address: string, specs: string[], localDomain: boolean): boolean {
    if (specs.length === 0) return false;
    const opts = { delimiters: this.settings.recipientDelimiter, isLocal: () => localDomain };
    for (const spec of specs) {
      const t = this.table(spec);
      if (!t) continue;
      const find = (): boolean => mailAddrFind((k, partial) => (partial ? t.getPartial(k) : t.get(k)), address, opts) !== undefined;
      try {
        if (t.backtracking ? withMatchBudget(LOOKUP_BUDGET_MS, find) : find()) return true;
      } catch (err) {
        throw new TableLookupError(`${spec} lookup error for "${address}": ${(err as Error).message}`);
      }
    }
    return false;
  }

  private isLocalOrVirtual(domain: string): boolean {
    if (!domain) return true;
    return this.mydestination.match(domain) || this.virtualMailboxDomains.match(domain) || this.virtualAliasDomains.match(domain);
  }

  private open(spec: string): LookupTable | undefined {
    if (this.broken.has(spec)) return undefined;
    try {
      // An alias file is read as aliases(5) ("name: value"), as local(8) reads it.
      const t = this.settings.aliasMaps.includes(spec) ? openAliasTable(spec, this.baseDir) : openTable(spec, this.baseDir);
      this.tables.set(spec, t);
      return t;
    } catch (err) {
      this.broken.add(spec);
      this.log.warning(`table ${spec}: ${(err as Error).message}`);
      return undefined;
    }
  }

  private configError(what: string): SmtpReplyError {
    this.log.warning(`smtpd restriction: ${what}`);
    return smtpError(451, '4.3.5', 'Server configuration error');
  }
}

function subject(stage: Stage, ctx: PolicyContext): string {
  switch (stage) {
    case 'client':
      return `<${ctx.clientName}[${ctx.clientAddr}]>: Client host rejected`;
    case 'helo':
      return `<${ctx.helo ?? ''}>: Helo command rejected`;
    case 'sender':
      return `<${ctx.sender ?? ''}>: Sender address rejected`;
    case 'recipient':
      return `<${ctx.recipient ?? ''}>: Recipient address rejected`;
    case 'data':
      return '<DATA>: Data command rejected';
    case 'eod':
      return '<END-OF-MESSAGE>: End-of-data rejected';
  }
}

/** The name a restriction looked up, as Postfix's lookup-error warning quotes it. */
function lookupName(stage: Stage, ctx: PolicyContext): string {
  switch (stage) {
    case 'client':
      return ctx.clientName;
    case 'helo':
      return ctx.helo ?? '';
    case 'sender':
      return ctx.sender ?? '';
    case 'recipient':
      return ctx.recipient ?? '';
    case 'data':
    case 'eod':
      return '';
  }
}

/** "5" + ".7.1" for a 5xx code, "4.7.1" for 4xx. */
function dsnFor(code: number, detail: string): string {
  return `${String(code)[0]}.${detail}`;
}

function isTableSpec(entry: string): boolean {
  return /^[a-z0-9_-]+:/i.test(entry) && !entry.startsWith('[');
}

function domainOf(address: string): string {
  const at = address.lastIndexOf('@');
  return at < 0 ? '' : address.slice(at + 1).toLowerCase();
}

/** Postfix's non-FQDN test: an address literal, or a name with a dot inside. */
function isFqdnHost(host: string): boolean {
  if (/^\[.*\]$/.test(host)) return true;
  return /^[^.]+(\.[^.]+)+\.?$/.test(host);
}

function isFqdnAddress(address: string): boolean {
  const domain = domainOf(address);
  return domain !== '' && isFqdnHost(domain);
}

/** RFC 1035 host name or an address literal, as Postfix's valid_hostname/valid_hostaddr. */
function isValidHeloName(helo: string): boolean {
  const h = helo.replace(/\.$/, '');
  if (/^\[(ipv6:)?[0-9a-f:.]+\]$/i.test(h)) return true;
  if (h.length === 0 || h.length > 255) return false;
  return h.split('.').every((label) => label.length > 0 && label.length <= 63 && /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/i.test(label)) && !/^[0-9.]+$/.test(h);
}

function matchRblValue(answer: string, want: string): boolean {
  // "127.0.0.[2..11]" or "127.0.0.2" or ";"-separated alternatives.
  return want.split(';').some((w) => {
    const a = answer.split('.');
    const p = w.split('.');
    if (p.length !== 4) return false;
    return p.every((part, i) => {
      const m = /^\[(\d+)\.\.(\d+)\]$/.exec(part);
      if (m) return Number(a[i]) >= Number(m[1]) && Number(a[i]) <= Number(m[2]);
      return part === a[i];
    });
  });
}

/** "451 4.3.0 <address>: Temporary lookup failure": a table failed; the client tries again. */
function lookupFailure(address: string): Refusal {
  return { error: smtpError(451, '4.3.0', `<${address}>: Temporary lookup failure`), reason: 'lookup_failure' };
}
