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
 * address that a canonical or virtual alias table rewrites is accepted; one
 * that the resolver (the trivial-rewrite service qmgr asks, when given)
 * routes to the error transport is refused with the route's text (550),
 * to the retry transport with 450; an unknown one in a virtual alias,
 * virtual mailbox, relay (with relay_recipient_maps) or local (with
 * local_recipient_maps) class is refused with 5.1.1. The bare "postmaster"
 * always passes, and postmaster@, MAILER-DAEMON@ and double-bounce@ of a
 * local domain pass the local table. local_recipient_maps' tables that alias_maps also
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
import type { MessageActions } from '../../cleanup/cleanup-types.js';
import { parsePolicyService, type PolicyService } from '../../config/policy-service.js';
import { formatRequest, PolicyClients } from './smtpd-policy-client.js';
import type { DmarcOutcome, SpfOutcome } from './smtpd-auth.js';
import type { SmtpdSettings } from './smtpd-settings.js';
import type { ResolvedAddress } from '../../protocol/protocol.js';
import { andThen, firstDefined, type Maybe } from '../../util/maybe.js';

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
  /** What only check_policy_service sends (smtpd fills it in; absent in unit uses). */
  session?: PolicySessionAttributes;
}

/**
 * The session facts a policy request carries besides the context's own
 * (Postfix's attribute names in the comments); '' where unknown.
 */
export interface PolicySessionAttributes {
  /** protocol_name: SMTP or ESMTP. */
  protocolName: string;
  queueId: string;
  /** instance: the same for every request about one message. */
  instance: string;
  /** recipient_count: recipients accepted so far (all of them at DATA and after). */
  recipientCount: number;
  /** size: the SIZE of MAIL FROM, then the message's size at end of data. */
  size: number;
  reverseClientName: string;
  clientPort: number;
  saslMethod: string;
  saslSender: string;
  encryptionProtocol: string;
  encryptionCipher: string;
  encryptionKeysize: string;
  serverAddress: string;
  serverPort: number;
  /** Not sent: which SMTP session asks (smtpd_policy_service_reuse_count_limit counts sessions per connection). */
  sessionId?: string;
}

export type { MessageActions };

/** An access result that acts on the message, for the log ("hold: RCPT from ...: <subject> triggers HOLD action"). */
export interface ActionEvent {
  /** hold, discard, filter, redirect, bcc, prepend, info, warn */
  kind: string;
  text: string;
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
  | 'policy_deferred'
  | 'policy_service'
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
  /** What the access results asked of the message (merged by smtpd over the transaction). */
  actions: MessageActions;
  /** The message actions to log, in the order they fired. */
  events: ActionEvent[];
}

/** The state of one evaluation (one RCPT, DATA or end of data). */
interface Run {
  warnings: SmtpReplyError[];
  actions: MessageActions;
  events: ActionEvent[];
  /** DEFER_IF_PERMIT seen: a permit (explicit or at the end) becomes this deferral. */
  deferIfPermit?: SmtpReplyError;
  /** DEFER_IF_REJECT seen: a later 5xx refusal becomes this deferral. */
  deferIfReject?: SmtpReplyError;
}

function newRun(): Run {
  return { warnings: [], actions: {}, events: [] };
}

type Refusal = { error: SmtpReplyError; reason: RejectReason };
/** One step of checkRecipient: a stage's restriction list, or the unlisted-address check of the sender or the recipient. */
type RecipientStep = { stage: Stage; list: string[] } | { unlisted: 'Sender' | 'Recipient' };
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
  private readonly policyClients = new PolicyClients();
  /** check_policy_service arguments, read once. */
  private readonly policyServices = new Map<string, PolicyService>();
  /** Specs that failed to open (already logged): not tried again. */
  private readonly broken = new Set<string>();

  constructor(
    private readonly settings: SmtpdSettings,
    private readonly baseDir: string,
    private readonly dns: SmtpdDns,
    private readonly log: Logger,
    /** The trivial-rewrite resolution qmgr uses; without it the class comes from the domain lists here. */
    private readonly resolve?: (address: string) => Maybe<ResolvedAddress>,
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
    const steps: RecipientStep[] = [];
    const stages: Array<[Stage, string[]]> = [
      ['client', s.clientRestrictions],
      ['helo', s.heloRestrictions],
      ['sender', s.senderRestrictions],
      ['recipient', s.relayRestrictions],
      ['recipient', s.recipientRestrictions],
    ];
    for (const [stage, list] of stages) {
      if (list.length) steps.push({ stage, list });
      if (stage === 'sender' && s.rejectUnlistedSender) steps.push({ unlisted: 'Sender' });
    }
    // receive_override_options = no_unknown_recipient_checks: the mail was checked before it got here.
    if (s.rejectUnlistedRecipient && !s.receiveOverride.noUnknownRecipientChecks) steps.push({ unlisted: 'Recipient' });
    this.recipientSteps = steps;
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
  /** What checkRecipient runs, in order, as this configuration asks it. */
  private readonly recipientSteps: readonly RecipientStep[];

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

  /**
   * Runs client, helo, sender, relay and recipient restrictions for one RCPT
   * TO. Synchronous until a step waits (DNS, a policy server, a route not
   * cached): most restrictions answer from memory.
   */
  checkRecipient(ctx: PolicyContext): Maybe<PolicyVerdict> {
    const run = newRun();
    // RFC 5321 section 4.5.1: the bare "postmaster" is always accepted (Postfix's smtpd_check_rcpt).
    if (ctx.recipient !== undefined && ctx.recipient.toLowerCase() === 'postmaster') return verdictOf(run, undefined);
    const check = (step: RecipientStep): Maybe<Refusal | undefined> => {
      if ('list' in step) return this.runList(step.stage, step.list, ctx, run);
      if (step.unlisted === 'Sender') return ctx.sender ? this.unlistedRecipient(ctx.sender, 'Sender') : undefined;
      return this.unlistedRecipient(ctx.recipient ?? '');
    };
    return andThen(firstDefined(this.recipientSteps, check), (refusal) => verdictOf(run, refusal));
  }

  /** Runs smtpd_end_of_data_restrictions after the message content (the recipient is set only when there is one). */
  checkEndOfData(ctx: PolicyContext): Maybe<PolicyVerdict> {
    const run = newRun();
    return andThen(this.runList('eod', this.settings.endOfDataRestrictions, ctx, run), (refusal) => verdictOf(run, refusal));
  }

  /** Runs smtpd_data_restrictions at DATA. */
  checkData(ctx: PolicyContext): Maybe<PolicyVerdict> {
    const run = newRun();
    return andThen(this.runList('data', this.settings.dataRestrictions, ctx, run), (refusal) => verdictOf(run, refusal));
  }

  /** Whether a domain is one of ours or one we relay for (mydestination, virtual, relay_domains). */
  private isAuthorizedDestination(domain: string): boolean {
    return this.isLocalOrVirtual(domain) || this.relayDomains.match(domain);
  }

  private runList(stage: Stage, list: string[], ctx: PolicyContext, run: Run): Maybe<Refusal | undefined> {
    return andThen(this.evaluate(stage, list, ctx, run, 0), (step) => (step.kind === 'reject' ? { error: step.error, reason: step.reason } : undefined));
  }

  /**
   * One list or restriction class, from entry `start` on: the first permit
   * or reject decides; DUNNO when none does. A restriction that waits
   * carries the rest of the list into its promise.
   */
  private evaluate(stage: Stage, list: string[], ctx: PolicyContext, run: Run, depth: number, start = 0): Maybe<Step> {
    let warnOnly = false;
    for (let i = start; i < list.length; i++) {
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
      const step = this.restriction(stage, name, arg, ctx, depth, run);
      if (step instanceof Promise) {
        const next = i + 1;
        const warn = warnOnly;
        return step.then((st) => decided(st, warn, run) ?? this.evaluate(stage, list, ctx, run, depth, next));
      }
      const decision = decided(step, warnOnly, run);
      if (decision) return decision;
      warnOnly = false;
    }
    return DUNNO;
  }

  private restriction(stage: Stage, name: string, arg: string | undefined, ctx: PolicyContext, depth: number, run: Run): Maybe<Step> {
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
        return this.access('client', arg!, ctx, (t) => lookupClient(t, ctx.clientName, ctx.clientAddr), depth, run);
      case 'check_helo_access':
        if (!ctx.helo) return DUNNO;
        return this.access('helo', arg!, ctx, (t) => lookupDomain(t, ctx.helo!.replace(/^\[|\]$/g, '')), depth, run);
      case 'check_sender_access':
        if (ctx.sender === undefined) return DUNNO;
        return this.access('sender', arg!, ctx, (t) => (sender === '' ? t.get(this.settings.nullAccessKey) : lookupEmail(t, sender)), depth, run);
      case 'check_recipient_access':
        if (!ctx.recipient) return DUNNO;
        return this.access('recipient', arg!, ctx, (t) => lookupEmail(t, rcpt), depth, run);
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
      case 'check_policy_service':
        return this.policyService(stage, arg!, ctx, depth, run);
      case 'reject_unlisted_recipient':
        return andThen(this.unlistedRecipient(rcpt), refusalStep);
      case 'reject_spf_fail':
      case 'defer_spf_temperror':
        return this.spfStep(name, ctx);
      case 'reject_dmarc_policy':
        return this.dmarcStep(ctx);
      case 'reject_unlisted_sender':
        return sender ? andThen(this.unlistedRecipient(sender, 'Sender'), refusalStep) : DUNNO;
      default: {
        const cls = this.settings.restrictionClasses.get(name);
        if (cls && depth < CLASS_DEPTH) return this.evaluate(stage, cls, ctx, run, depth + 1);
        return { kind: 'reject', error: this.configError(`unknown restriction "${name}"`), reason: 'config_error' };
      }
    }
  }

  /** A check_*_access lookup; its refusals name what was looked up (the client, the sender...) whatever list it is in, as Postfix's. */
  private access(stage: Stage, spec: string, ctx: PolicyContext, find: (t: LookupTable) => string | undefined, depth: number, run: Run): Maybe<Step> {
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
    return this.accessResult(stage, spec, value, ctx, depth, run);
  }

  /**
   * One access(5) result, from a table or a policy server (`source` names
   * it in warnings): Postfix's actions. OK (and a number that is no reply
   * code) permits, DUNNO goes on, REJECT, DEFER and "4NN/5NN text" refuse,
   * DEFER_IF_PERMIT and DEFER_IF_REJECT defer a later permit or refusal;
   * HOLD, FILTER, REDIRECT, BCC and PREPEND are saved for the message and
   * go on; DISCARD saves the discard and permits; WARN and INFO log; a
   * restriction name is evaluated in the same stage.
   */
  private accessResult(stage: Stage, source: string, value: string, ctx: PolicyContext, depth: number, run: Run): Maybe<Step> {
    const v = value.trim();
    const word = (v.split(/\s+/)[0] ?? '').toUpperCase();
    const rest = v.slice(word.length).trim();
    const c = this.settings.codes;
    // Postfix's texts: "<r>: Recipient address triggers HOLD action" (or the action's own text), "... triggers FILTER scan:host".
    const who = subject(stage, ctx).replace(/ rejected$/, '');
    const triggers = (verb: string): string => (verb === 'HOLD' || verb === 'DISCARD' ? (rest ? `${who} ${rest}` : `${who} triggers ${verb} action`) : `${who} triggers ${verb} ${rest}`);
    if (word === 'OK' || (/^\d+$/.test(v) && !/^[45]\d\d$/.test(v))) return PERMIT;
    if (word === 'DUNNO' || word === '') return DUNNO;
    if (word === 'REJECT') return this.reject(stage, ctx, c.accessReject, rest || 'Access denied');
    if (word === 'DEFER') return this.reject(stage, ctx, c.accessDefer, rest || 'Access denied');
    if (word === 'DEFER_IF_PERMIT' || word === 'DEFER_IF_REJECT') {
      const step = this.reject(stage, ctx, c.accessDefer, rest || 'Service is unavailable');
      if (step.kind === 'reject') {
        if (word === 'DEFER_IF_PERMIT') run.deferIfPermit ??= step.error;
        else run.deferIfReject ??= step.error;
      }
      return DUNNO;
    }
    const reply = parseReply(v);
    if (reply) return { kind: 'reject', error: smtpError(reply.code, reply.dsn, `${subject(stage, ctx)}: ${reply.text || 'Access denied'}`), reason: stageReason(stage) };
    switch (word) {
      case 'WARN':
      case 'INFO':
        run.events.push({ kind: word.toLowerCase(), text: rest || `${who} triggers ${word} action` });
        return DUNNO;
      case 'HOLD':
        run.actions.hold = true;
        run.events.push({ kind: 'hold', text: triggers('HOLD') });
        return DUNNO;
      case 'DISCARD':
        run.actions.discard = rest;
        run.events.push({ kind: 'discard', text: triggers('DISCARD') });
        return PERMIT;
      case 'FILTER':
        if (!/^[^:\s]+:\S*$/.test(rest)) {
          this.log.warning(`access result "${printable(v)}" in ${source}: need FILTER transport:destination`);
          return DUNNO;
        }
        run.actions.filter = rest;
        run.events.push({ kind: 'filter', text: triggers('FILTER') });
        return DUNNO;
      case 'REDIRECT':
      case 'BCC':
        if (!/^[^@\s]+@[^@\s]+$/.test(rest)) {
          this.log.warning(`access result "${printable(v)}" in ${source}: need ${word} user@domain`);
          return DUNNO;
        }
        if (word === 'REDIRECT') run.actions.redirect = rest;
        else if (!(run.actions.bcc ??= []).includes(rest)) run.actions.bcc.push(rest);
        run.events.push({ kind: word.toLowerCase(), text: triggers(word) });
        return DUNNO;
      case 'PREPEND':
        if (!/^[\x21-\x39\x3b-\x7e]+:/.test(rest)) {
          this.log.warning(`access result "${printable(v)}" in ${source}: need PREPEND headername: headervalue`);
          return DUNNO;
        }
        (run.actions.prepend ??= []).push(rest);
        return DUNNO;
    }
    if (/^[a-z_]+$/i.test(word) && depth < 4) {
      // A restriction name as the result: evaluate it in the same stage.
      const parts = v.split(/[\s,]+/);
      return this.restriction(stage, parts[0].toLowerCase(), parts[1], ctx, depth + 1, run);
    }
    this.log.warning(`${source}: unsupported access result "${printable(word)}" ignored`);
    return DUNNO;
  }

  /**
   * check_policy_service: one request to the server, its action read as an
   * access(5) result; a server that cannot be asked (or answers garbage)
   * gets its default action, and a warning naming it.
   */
  private async policyService(stage: Stage, arg: string, ctx: PolicyContext, depth: number, run: Run): Promise<Step> {
    let service = this.policyServices.get(arg);
    if (!service) {
      try {
        service = parsePolicyService(arg, this.settings.policyDefaults, this.settings.queueDirectory);
      } catch (err) {
        return { kind: 'reject', error: this.configError(`check_policy_service ${arg}: ${(err as Error).message}`), reason: 'config_error' };
      }
      this.policyServices.set(arg, service);
    }
    const answer = await this.policyClients.query(service, formatRequest(policyRequest(stage, ctx, service.options.policyContext, this.settings)), ctx.session?.sessionId);
    if ('action' in answer) return this.accessResult(stage, `policy server ${service.name}`, answer.action, ctx, depth, run);
    this.log.warning(`problem talking to server ${service.name}: ${answer.error}`);
    return this.accessResult(stage, 'smtpd_policy_service_default_action', service.options.defaultAction, ctx, depth, run);
  }

  /** An SMTP session ended: policy connections that served their smtpd_policy_service_reuse_count_limit sessions may close. */
  sessionEnded(sessionId: string): void {
    this.policyClients.sessionEnded(sessionId);
  }

  /** Closes the kept policy server connections. */
  close(): void {
    this.policyClients.close();
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
   * or is accepted (accept). A verdict that a DNS failure left unknown
   * (temperror, an aligned identifier could not be checked) of such a
   * domain is deferred, "451 4.7.1", so the sender retries rather than
   * having its mail refused for good or let through. Other results go on.
   */
  private dmarcStep(ctx: PolicyContext): Step {
    const d = ctx.dmarc;
    if (d?.result === 'temperror' && (d.policy === 'reject' || d.policy === 'quarantine')) {
      return { kind: 'reject', error: smtpError(451, '4.7.1', `<END-OF-MESSAGE>: End-of-data rejected: DMARC policy of ${d.domain}: temporary error - try again later`), reason: 'dmarc_policy' };
    }
    if (!d || d.result !== 'fail') return DUNNO;
    if (d.policy === 'reject') {
      return { kind: 'reject', error: smtpError(550, '5.7.1', `<END-OF-MESSAGE>: End-of-data rejected: rejected by DMARC policy of ${d.domain}`), reason: 'dmarc_policy' };
    }
    if (d.policy === 'quarantine' && this.settings.dmarcQuarantineHold) ctx.hold = `DMARC policy of ${d.domain} is quarantine`;
    return DUNNO;
  }

  /**
   * Postfix's check_rcpt_maps, after the lists: an address that a canonical
   * or virtual alias table rewrites passes; one whose route (resolved as qmgr
   * resolves it) is the error transport is refused with that route's text
   * (550, the virtual alias code for a virtual alias domain), the retry
   * transport with 450; then an unknown address of a class with a recipient
   * table is refused (a sender, for reject_unlisted_sender, with X.1.0).
   */
  private unlistedRecipient(rcpt: string, who: 'Recipient' | 'Sender' = 'Recipient'): Maybe<Refusal | undefined> {
    if (!rcpt) return undefined;
    try {
      if (this.rewritten(rcpt)) return undefined;
      const route = this.resolve?.(rcpt);
      if (route instanceof Promise) return route.then((r) => this.unlistedByRoute(rcpt, r, who)).catch((err: unknown) => this.lookupFailed(rcpt, err));
      return this.unlistedByRoute(rcpt, route, who);
    } catch (err) {
      return this.lookupFailed(rcpt, err);
    }
  }

  /** Postfix's reject_dict_retry: the recipient may exist; the client tries again. */
  private lookupFailed(rcpt: string, err: unknown): Refusal {
    this.log.warning((err as Error).message);
    return lookupFailure(rcpt);
  }

  /** unlistedRecipient once the route is known (undefined: no resolver; the class comes from the domain lists). */
  private unlistedByRoute(rcpt: string, route: ResolvedAddress | undefined, who: 'Recipient' | 'Sender'): Refusal | undefined {
    const s = this.settings;
    if (route && (route.transport === 'error' || route.transport === 'retry')) return this.undeliverable(rcpt, route, who);
    const cls = route ? route.addressClass : this.addressClass(domainOf(rcpt));
    switch (cls) {
      case 'local':
        if (s.localRecipientMaps.length === 0 || ABSORBED_LOCAL_PARTS.test(rcpt)) return undefined;
        if (this.known(rcpt, s.localRecipientMaps, true)) return undefined;
        return this.userUnknown(rcpt, s.codes.unknownLocalRecipient, 'local recipient', who);
      case 'virtual_mailbox':
        if (s.virtualMailboxMaps.length === 0 || this.known(rcpt, s.virtualMailboxMaps, false)) return undefined;
        return this.userUnknown(rcpt, s.codes.unknownVirtualMailbox, 'virtual mailbox', who);
      case 'virtual_alias':
        return this.userUnknown(rcpt, s.codes.unknownVirtualAlias, 'virtual alias', who);
      case 'relay':
        if (s.relayRecipientMaps.length === 0 || this.known(rcpt, s.relayRecipientMaps, false)) return undefined;
        return this.userUnknown(rcpt, s.codes.unknownRelayRecipient, 'relay recipient', who);
      default:
        return undefined;
    }
  }

  /** The address class by the domain lists alone (when no resolver is given). */
  private addressClass(domain: string): ResolvedAddress['addressClass'] {
    if (!domain || this.mydestination.match(domain)) return 'local';
    if (this.virtualAliasDomains.match(domain)) return 'virtual_alias';
    if (this.virtualMailboxDomains.match(domain)) return 'virtual_mailbox';
    if (this.relayDomains.match(domain)) return 'relay';
    return 'default';
  }

  /**
   * A route to the error or retry transport: "550 5.1.1 <a>: Recipient
   * address rejected: TEXT", the enhanced code and text from the nexthop
   * ("5.1.1 text"; X.1.0 for a sender), 450 and X.1.1 for retry.
   */
  private undeliverable(rcpt: string, route: ResolvedAddress, who: 'Recipient' | 'Sender'): Refusal {
    const retry = route.transport === 'retry';
    const code = retry ? 450 : route.addressClass === 'virtual_alias' ? this.settings.codes.unknownVirtualAlias : 550;
    const m = /^([245])\.(\d{1,3})\.(\d{1,3})\s+(.*)$/s.exec(route.nexthop.trim());
    let detail = m ? `${m[2]}.${m[3]}` : who === 'Sender' ? '1.0' : '1.1';
    // Postfix's smtpd_dsn_fix: an address status names the address being refused.
    if (who === 'Sender' && /^1\.[1-8]$/.test(detail)) detail = SENDER_DSN[detail] ?? '1.0';
    const text = (m ? m[4] : route.nexthop.trim()) || (retry ? 'Try again later' : 'Address is undeliverable');
    const error = smtpError(code, dsnFor(code, detail), `<${rcpt}>: ${who} address rejected: ${text}`);
    return { error, reason: who === 'Sender' ? 'unknown_sender' : 'unknown_recipient' };
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

/**
 * Local parts qmgr absorbs or bounce generates, accepted in a local domain
 * whatever local_recipient_maps says (Postfix's check_rcpt_maps exceptions;
 * double-bounce is double_bounce_sender's default).
 */
const ABSORBED_LOCAL_PARTS = /^(double-bounce|postmaster|mailer-daemon)(@|$)/i;

/** Postfix's smtpd_dsn_fix for a sender: the recipient X.1.Y statuses as the sender's. */
const SENDER_DSN: Record<string, string> = { '1.1': '1.0', '1.2': '1.8', '1.3': '1.7', '1.4': '1.0', '1.5': '1.0', '1.6': '1.0', '1.7': '1.7', '1.8': '1.8' };

/** "451 4.3.0 <address>: Temporary lookup failure": a table failed; the client tries again. */
function lookupFailure(address: string): Refusal {
  return { error: smtpError(451, '4.3.0', `<${address}>: Temporary lookup failure`), reason: 'lookup_failure' };
}

/** A step's effect on its list: the permit or refusal that ends it, or undefined to go on (a refusal under warn_if_reject only warns). */
function decided(step: Step, warnOnly: boolean, run: Run): Step | undefined {
  if (step.kind === 'permit') return PERMIT;
  if (step.kind === 'reject') {
    if (!warnOnly) return step;
    run.warnings.push(step.error);
  }
  return undefined;
}

/** A refusal as a restriction's step; none is DUNNO. */
function refusalStep(refusal: Refusal | undefined): Step {
  return refusal ? { kind: 'reject', ...refusal } : DUNNO;
}

/** The verdict of one evaluation: DEFER_IF_REJECT turns a 5xx refusal into its deferral, DEFER_IF_PERMIT an acceptance. */
function verdictOf(run: Run, refusal: Refusal | undefined): PolicyVerdict {
  const base = { warnings: run.warnings, actions: run.actions, events: run.events };
  if (refusal) {
    if (run.deferIfReject && refusal.error.responseCode >= 500) return { ...base, reject: run.deferIfReject, reason: refusal.reason };
    return { ...base, reject: refusal.error, reason: refusal.reason };
  }
  if (run.deferIfPermit) return { ...base, reject: run.deferIfPermit, reason: 'policy_deferred' };
  return base;
}

/** Up to 100 printable characters of a value, for a log line. */
function printable(s: string): string {
  return s.slice(0, 100).replace(/[^\x20-\x7e]/g, '?');
}

/** Postfix's protocol_state of each stage: with smtpd_delay_reject every list before DATA runs at RCPT. */
function protocolState(stage: Stage): string {
  return stage === 'data' ? 'DATA' : stage === 'eod' ? 'END-OF-MESSAGE' : 'RCPT';
}

/** The attributes of one policy request, in Postfix's order. */
function policyRequest(stage: Stage, ctx: PolicyContext, policyContext: string, settings: SmtpdSettings): Array<[string, string]> {
  const s = ctx.session;
  return [
    ['request', 'smtpd_access_policy'],
    ['protocol_state', protocolState(stage)],
    ['protocol_name', s?.protocolName ?? 'SMTP'],
    ['helo_name', ctx.helo ?? ''],
    ['queue_id', s?.queueId ?? ''],
    ['sender', ctx.sender ?? ''],
    ['recipient', ctx.recipient ?? ''],
    ['recipient_count', String(s?.recipientCount ?? 0)],
    ['client_address', ctx.clientAddr],
    ['client_name', ctx.clientName],
    ['reverse_client_name', s?.reverseClientName ?? ctx.clientName],
    ['instance', s?.instance ?? ''],
    ['sasl_method', ctx.saslUser ? (s?.saslMethod ?? '') : ''],
    ['sasl_username', ctx.saslUser ?? ''],
    ['sasl_sender', s?.saslSender ?? ''],
    ['size', String(s?.size ?? 0)],
    ['ccert_subject', ''],
    ['ccert_issuer', ''],
    ['ccert_fingerprint', ''],
    ['ccert_pubkey_fingerprint', ''],
    ['encryption_protocol', s?.encryptionProtocol ?? ''],
    ['encryption_cipher', s?.encryptionCipher ?? ''],
    ['encryption_keysize', s?.encryptionKeysize ?? ''],
    ['etrn_domain', ''],
    ['stress', ''],
    ['client_port', String(s?.clientPort ?? 0)],
    ['policy_context', policyContext],
    ['server_address', s?.serverAddress ?? ''],
    ['server_port', String(s?.serverPort ?? 0)],
    ['compatibility_level', settings.compatibilityLevel],
    ['mail_version', settings.mailVersion],
  ];
}
