/**
 * cleanup: Postfix's cleanup(8) as a library, inline on the hot path.
 * process() normalises line ends, splits header from body (no MIME parse),
 * runs header_checks inline and body_checks / mime_header_checks in a lazily
 * started piscina pool, rewrites the envelope through trivial-rewrite,
 * rewrites the address headers (From:, To:, ...) as Postfix's cleanup does
 * (local_header_rewrite_clients, remote_header_rewrite_domain; canonical
 * maps and masquerading per their classes, in trivial-rewrite), prepends
 * Received and (for local submissions or local_header_rewrite_clients)
 * the missing From/Date/Message-ID, and
 * returns the message for the store. The body and the kept header bytes are
 * passed through unchanged, except where a check's IGNORE, PREPEND or
 * REPLACE asks for a change. REDIRECT replaces every recipient with its
 * address (the last one wins); BCC adds one; either address goes through
 * the same rewriting as an envelope recipient, without DSN fields.
 *
 * A message whose primary header, with the Received: header cleanup adds,
 * holds hopcount_limit Received: headers or more is refused with Postfix's
 * "554 5.4.0 Error: too many hops" (cleanup_message.c counts Received: only,
 * its own included): it is in a mail loop.
 *
 * Content checks cannot stall the thread: patterns run on RE2 in linear
 * time, header_checks patterns that need the backtracking engine share a
 * time budget per message (HEADER_CHECKS_BUDGET_MS), the body walk has a
 * deadline (body_checks_time_limit) after which its thread is replaced, and
 * multipart nesting stops at mime_nesting_limit ("5.6.0 MIME nesting
 * exceeds safety limit" when header checks are in use, as Postfix). A check
 * whose table cannot answer defers the message, logged as Postfix does
 * ("map lookup problem -- message not accepted, try again later").
 *
 * Never throws for a message: refusals are { action: 'reject', reason }
 * ("5.7.1 ..." permanent; "4.x.x ..." temporary, e.g. "4.6.0 Alias
 * expansion error" or a failing table), drops are { action: 'discard' }.
 * Opening a table that does not exist throws from the constructor, so a bad
 * configuration shows at start. close() stops the body-check pool.
 */
import { open, readFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import type { MainConfig } from '../config/main-config.js';
import { openTableList, TableLookupError } from '../config/lookup-table.js';
import { withMatchBudget } from '../config/table-budget.js';
import { withParameterDefaults } from '../config/parameter-defaults.js';
import type { Logger } from '../util/log.js';
import type { NewMessage } from '../store/store-types.js';
import { actionLogText, ContentCheckError, isHeaderText, isMailAddress, mimeErrorLogText, rejectReason, type CheckEvent, type CheckMap } from './cleanup-actions.js';
import { rewriteEnvelope, type EnvelopeResult } from './cleanup-addresses.js';
import { BodyCheckPool } from './cleanup-body-pool.js';
import { asBuffer, headerValue, normalizeLineEnds, splitMessage, unfoldHeader, type HeaderField } from './cleanup-content.js';
import { assemble, isEmpty, noEdits, outputHeaders, type ContentEdits } from './cleanup-edits.js';
import { gmtStamp, mailDate } from '../global/mail-date.js';
import { runHeaderChecks, type PrimaryHeaderTables } from './cleanup-header-checks.js';
import { receivedHeader } from './cleanup-received.js';
import { HeaderRewriteClients } from './cleanup-rewrite-clients.js';
import { MessageSigner } from './cleanup-sign.js';
import { headerRole, rewriteHeaderLine } from './cleanup-header-addresses.js';
import type { CleanupInput, CleanupResult, RewriteFn, RewriteHeaderFn } from './cleanup-types.js';
import type { RecipientSpec } from '../store/store-types.js';
import { MilterSession } from '../global/milter-session.js';
import { readMilterSettings, type MilterSettings } from '../config/milter-settings.js';
import { emulateNonSmtp, runMilters, verdictOutcome } from './cleanup-milter.js';
import { readReply } from '../util/smtp-reply.js';

export type { CleanupInput, CleanupResult, RewriteFn, RewriteHeaderFn } from './cleanup-types.js';

/**
 * The time one message's header_checks and mime_header_checks may spend in
 * patterns that need the backtracking engine, all headers together; they
 * run inline, on the thread that serves the SMTP sessions.
 */
export const HEADER_CHECKS_BUDGET_MS = 1000;

/** Postfix's text for a multipart structure deeper than mime_nesting_limit. */
const NESTING_ERROR = 'MIME nesting exceeds safety limit';

export interface CleanupOptions {
  config: MainConfig;
  log: Logger;
  instance: number;
  rewrite: RewriteFn;
  /** Header address rewriting; without it headers are left as they came. */
  rewriteHeader?: RewriteHeaderFn;
}

/** The outcome of all checks on one message. */
interface Verdict {
  hold: boolean;
  reject?: string;
  discard?: string;
  /** REDIRECT: the one recipient that replaces all others. */
  redirect?: string;
  /** BCC: recipients to add, in the order they fired. */
  bcc?: string[];
  /** Made on the first edit only, so a message without one allocates nothing. */
  edits?: ContentEdits;
  /** FILTER: the content filter for this message ("transport:destination"). */
  filter?: string;
  /** smtpd's PREPEND header lines. */
  smtpdPrepend?: string[];
}

export class Cleanup {
  private readonly config: MainConfig;
  private readonly log: Logger;
  private readonly rewrite: RewriteFn;
  private readonly rewriteHeader: RewriteHeaderFn | undefined;
  private readonly remoteRewriteDomain: string;
  /** A canonical map or masquerade_domains is set: every header address may change, not only incomplete ones. */
  private readonly headerMapsActive: boolean;
  private readonly appendDotMydomain: boolean;
  private readonly myhostname: string;
  private readonly headerSizeLimit: number;
  private readonly hopcountLimit: number;
  private readonly bodySizeLimit: number;
  private readonly bodyTimeLimitMs: number;
  private readonly nestingLimit: number;
  /** Postfix reports MIME nesting errors only when header checks of some kind are in use. */
  private readonly reportNesting: boolean;
  private readonly headerTables: PrimaryHeaderTables;
  private readonly bodyChecks: string;
  private readonly mimeHeaderChecks: string;
  private readonly nestedHeaderChecks: string;
  private readonly lineLength: number;
  private readonly rewriteClients: HeaderRewriteClients;
  private readonly pool: BodyCheckPool;
  /** DKIM signing and ARC sealing; undefined when neither is configured. */
  private readonly signer: MessageSigner | undefined;
  private readonly userid: number;
  /** enable_original_recipient: record each rewritten recipient's address as received. */
  private readonly keepOriginal: boolean;
  /** non_smtpd_milters, for sendmail/pickup mail. */
  private readonly nonSmtpdMilters: MilterSettings;
  /** tls_required_enable: a "TLS-Required: No" header is recorded with the message (RFC 8689). */
  private readonly tlsRequiredEnable: boolean;

  constructor(opts: CleanupOptions) {
    const c = opts.config;
    this.config = c;
    this.log = opts.log;
    this.rewrite = opts.rewrite;
    this.rewriteHeader = opts.rewriteHeader;
    this.myhostname = (c.has('myhostname') && c.get('myhostname').trim()) || hostname();
    // The table's defaults (mime_header_checks = $header_checks) for a partial record too.
    const checks = withParameterDefaults(c, [
      'header_checks', 'mime_header_checks', 'nested_header_checks', 'body_checks', 'header_size_limit', 'body_checks_size_limit',
      'hopcount_limit', 'line_length_limit', 'body_checks_time_limit', 'mime_nesting_limit', 'remote_header_rewrite_domain',
      'canonical_maps', 'sender_canonical_maps', 'recipient_canonical_maps', 'masquerade_domains', 'append_dot_mydomain',
      'enable_original_recipient', 'tls_required_enable',
    ]);
    this.keepOriginal = checks.bool('enable_original_recipient');
    this.tlsRequiredEnable = checks.bool('tls_required_enable');
    this.remoteRewriteDomain = checks.get('remote_header_rewrite_domain').trim();
    this.headerMapsActive = ['canonical_maps', 'sender_canonical_maps', 'recipient_canonical_maps', 'masquerade_domains'].some((n) => checks.get(n).trim() !== '');
    this.appendDotMydomain = checks.bool('append_dot_mydomain');
    this.headerSizeLimit = checks.int('header_size_limit');
    this.hopcountLimit = checks.int('hopcount_limit');
    this.bodySizeLimit = checks.int('body_checks_size_limit');
    this.bodyTimeLimitMs = checks.time('body_checks_time_limit') * 1000;
    this.nestingLimit = checks.int('mime_nesting_limit');
    const headerChecks = checks.get('header_checks').trim();
    this.bodyChecks = checks.get('body_checks').trim();
    this.mimeHeaderChecks = checks.get('mime_header_checks').trim();
    this.nestedHeaderChecks = checks.get('nested_header_checks').trim();
    this.lineLength = checks.int('line_length_limit');
    this.reportNesting = Boolean(headerChecks || this.mimeHeaderChecks || this.nestedHeaderChecks);
    // Opened here so a missing table is a start-up error, not a per-message one.
    this.headerTables = {
      header: headerChecks ? openTableList(headerChecks, c.dir) : undefined,
      mime: this.mimeHeaderChecks ? openTableList(this.mimeHeaderChecks, c.dir) : undefined,
    };
    if (this.bodyChecks) openTableList(this.bodyChecks, c.dir);
    if (this.nestedHeaderChecks) openTableList(this.nestedHeaderChecks, c.dir);
    this.rewriteClients = new HeaderRewriteClients(c);
    this.pool = new BodyCheckPool();
    // Keys are read here: a missing or unreadable one stops start and reload.
    this.signer = MessageSigner.from(c);
    this.userid = typeof process.getuid === 'function' ? process.getuid() : 0;
    // A value that does not parse throws here, so the configuration fails at start.
    this.nonSmtpdMilters = readMilterSettings(c, 'non_smtpd');
  }

  /** Cleans one message; see the file comment for the outcomes. */
  async process(input: CleanupInput): Promise<CleanupResult> {
    const spooled = input.spooled;
    // A spooled message: its header section lies within header_size_limit bytes (splitMessage stops there).
    let buf = spooled ? await readPrefix(spooled.path, Math.min(spooled.length, this.headerSizeLimit + 1)) : input.crlf ? asBuffer(input.content) : normalizeLineEnds(input.content);
    let split = splitMessage(buf, this.headerSizeLimit);
    // Whether the body stays in the spool file; else it is read whole for the steps that need it.
    let fileBody = spooled !== undefined && buf.length < spooled.length;
    if (spooled && fileBody && this.needsWholeBody(input, buf, split.headers)) {
      buf = await readFile(spooled.path);
      split = splitMessage(buf, this.headerSizeLimit);
      fileBody = false;
    }
    // + 1: the Received: header this message gets here counts, as in Postfix.
    if (this.hopcountLimit > 0 && countReceived(split.headers) + 1 >= this.hopcountLimit) {
      this.log.warning(`${input.queueId}: message rejected: hopcount exceeded`);
      return { action: 'reject', reason: '5.4.0 Error: too many hops', code: 554 };
    }
    const envelope = rewriteEnvelope(this.rewriteFor(input), input.sender, input.recipients, this.keepOriginal);

    const verdict: Verdict = { hold: false };
    if (input.actions) this.takeSmtpdActions(input, verdict);
    // The restriction that asked for it logged why (smtpd's "hold:" line).
    if (input.hold) verdict.hold = true;
    if (input.authResults) this.dropForgedResults(buf, split.headers, input.authResults.authservId, verdict);
    const at: { map?: CheckMap } = {};
    // receive_override_options = no_header_body_checks: the mail was checked before it went to the filter.
    const checks = input.receiveOverride?.noHeaderBodyChecks !== true;
    try {
      const tables = this.headerTables;
      if (checks && (tables.header || tables.mime)) {
        const run = (): ReturnType<typeof runHeaderChecks> => runHeaderChecks(tables, buf, split.headers, at);
        const r = tables.header?.backtracking || tables.mime?.backtracking ? withMatchBudget(HEADER_CHECKS_BUDGET_MS, run) : run();
        if (r.ignored.size > 0) editsOf(verdict).ignored = r.ignored;
        this.judge(r.events, input, verdict);
      }
      if (checks && !verdict.reject && verdict.discard === undefined && this.needsBodyWalk(buf, split.headers)) {
        await this.bodyWalk(buf, split.bodyStart, split.headers, input, verdict);
      }
    } catch (err) {
      this.lookupProblem(input, err instanceof ContentCheckError ? err.map : err instanceof TableLookupError ? at.map : undefined, err as Error, verdict);
    }

    let env = await envelope;
    if (!verdict.reject && verdict.discard === undefined && (verdict.redirect !== undefined || verdict.bcc)) {
      env = await this.redirectEnvelope(input, verdict);
    }
    if (verdict.reject) return { action: 'reject', reason: verdict.reject };
    if (verdict.discard !== undefined) return { action: 'discard', reason: verdict.discard };
    if ('error' in env) {
      this.log.warning(`${input.queueId}: address rewriting for <${env.address}> failed: ${env.error}`);
      return { action: 'reject', reason: env.error };
    }

    const headerError = input.receiveOverride?.noAddressMappings ? undefined : await this.rewriteHeaders(buf, split.headers, input, verdict);
    if (headerError) {
      this.log.warning(`${input.queueId}: header address rewriting failed: ${headerError}`);
      return { action: 'reject', reason: headerError };
    }
    const edits = verdict.edits && !isEmpty(verdict.edits) ? verdict.edits : undefined;
    const { added, messageId } = this.missingHeaders(buf, split.headers, edits, input, env.sender);
    this.log.queue(input.queueId, `message-id=${messageId ?? '<>'}`);
    // smtpd's PREPEND lines go above its Received: header, as Postfix's smtpd writes them;
    // RFC 8601: Authentication-Results above the trace fields, this host's own Received included.
    const prepended = verdict.smtpdPrepend ? verdict.smtpdPrepend.map((h) => `${h}\r\n`).join('') : '';
    const results = input.authResults ? `Authentication-Results: ${input.authResults.value}\r\n` : '';
    const top = prepended + results + receivedHeader(input, this.myhostname, this.userid) + added;
    // A body left in its spool file: only the header section is assembled and journalled.
    const assembled = assemble(fileBody ? buf.subarray(0, split.bodyStart) : buf, split.headers, split.headerEnd, split.bodyStart, Buffer.from(top, 'utf8'), edits);
    const content = this.signer ? await this.signAndSeal(assembled, input, env.sender) : assembled;
    const message: NewMessage = {
      queueId: input.queueId,
      arrivalTime: input.arrivalTime,
      sender: env.sender,
      recipients: env.recipients,
      client: input.client,
      headerLength: content.headerLength,
      content: content.bytes,
    };
    if (spooled && fileBody) message.bodyFile = { offset: split.bodyStart, length: spooled.length - split.bodyStart };
    if (verdict.hold || input.hold) message.hold = true;
    const filter = verdict.filter ?? input.contentFilter;
    // A verify-only message tests the recipients' own routes: a content filter would take it over.
    if (input.verify) message.verify = true;
    else if (filter) message.filter = filter;
    if (input.envid !== undefined) message.envid = input.envid;
    if (input.ret !== undefined) message.ret = input.ret;
    if (input.smtputf8 !== undefined) message.smtputf8 = input.smtputf8;
    if (input.bodyType !== undefined) message.bodyType = input.bodyType;
    if (input.requiretls) message.requiretls = true;
    if (this.tlsRequiredEnable && tlsRequiredNo(buf, split.headers, this.log, input.queueId)) message.tlsRequiredNo = true;
    if (input.milters || (input.nonSmtpdMilters && this.nonSmtpdMilters.milters.length > 0)) return this.milters(input, message, messageId);
    return messageId === undefined ? { action: 'queue', message } : { action: 'queue', message, messageId };
  }

  /**
   * The milters' part, after cleanup's own checks (as Postfix: the milters
   * see what would be queued): the SMTP session's milters, or for a local
   * submission non_smtpd_milters after the SMTP events played to them.
   * Their verdict is logged as Postfix's cleanup logs it.
   */
  private async milters(input: CleanupInput, message: NewMessage, messageId: string | undefined): Promise<CleanupResult> {
    let session = input.milters;
    let own: MilterSession | undefined;
    if (!session) {
      const macros = localMacros(input, this.myhostname, this.nonSmtpdMilters);
      session = own = new MilterSession(this.nonSmtpdMilters, macros, this.log);
    }
    try {
      const early = own ? await emulateNonSmtp(own, input.sender, input.recipients) : undefined;
      const outcome = early ? verdictOutcome(early, message) : await runMilters(session, message, this.rewrite);
      if (outcome.action === 'discard') {
        this.log.queue(input.queueId, `milter-discard: END-OF-MESSAGE from ${origin(input)}: milter triggers DISCARD action; ${envelopeText(input)}`);
        return { action: 'discard', reason: 'milter triggers DISCARD action' };
      }
      if (outcome.action === 'reply') {
        const r = readReply(outcome.reply, '7.1');
        this.log.queue(input.queueId, `milter-reject: END-OF-MESSAGE from ${origin(input)}: ${r.dsn} ${r.text}; ${envelopeText(input)}`);
        return { action: 'reject', reason: `${r.dsn} ${r.text}`, code: r.code };
      }
      const out = outcome.message;
      if (outcome.hold) {
        this.log.queue(input.queueId, `milter-hold: END-OF-MESSAGE from ${origin(input)}: ${outcome.holdReason || 'milter triggers HOLD action'}; ${envelopeText(input)}`);
        out.hold = true;
      }
      return messageId === undefined ? { action: 'queue', message: out } : { action: 'queue', message: out, messageId };
    } finally {
      own?.close();
    }
  }

  /**
   * Postfix's header address rewriting: From:, To: and the other address
   * headers of mail from local_header_rewrite_clients are rewritten in the
   * "local" context, other clients' in the "remote" one when
   * remote_header_rewrite_domain is set, otherwise not at all. A changed
   * header becomes a replacement edit (after any REPLACE of header_checks,
   * whose text is what gets rewritten); an IGNOREd one stays gone. Returns
   * a temporary error text when a table could not answer.
   */
  private async rewriteHeaders(buf: Buffer, headers: HeaderField[], input: CleanupInput, verdict: Verdict): Promise<string | undefined> {
    const fn = this.rewriteHeader;
    if (!fn) return undefined;
    const context = this.rewriteClients.isLocalClient(input.client, input.local) ? 'local' : this.remoteRewriteDomain ? 'remote' : undefined;
    if (!context) return undefined;
    let error: string | undefined;
    const jobs: Array<Promise<void>> = [];
    for (let i = 0; i < headers.length; i++) {
      const replaced = verdict.edits?.replace.get(i);
      const name = replaced !== undefined ? replaced.slice(0, Math.max(0, replaced.indexOf(':'))).trim().toLowerCase() : headers[i].name;
      const role = headerRole(name);
      if (!role || verdict.edits?.ignored.has(i)) continue;
      const line = replaced ?? buf.toString('utf8', headers[i].start, headers[i].end).replace(/\r?\n$/, '');
      jobs.push(
        rewriteHeaderLine(line, async (address) => {
          if (this.complete(address)) return address;
          const r = await fn(address, role, context);
          if (r.error) error ??= r.error;
          return r.address;
        }).then((out) => {
          if (out !== undefined) editsOf(verdict).replace.set(i, out);
        }),
      );
    }
    try {
      await Promise.all(jobs);
    } catch (err) {
      return `4.3.0 address rewriting failed: ${(err as Error).message}`;
    }
    return error;
  }

  /**
   * True when rewriting cannot change a header address: no map or
   * masquerading is set and the address needs nothing appended. Saves the
   * rewrite call for most mail.
   */
  private complete(address: string): boolean {
    if (this.headerMapsActive) return false;
    const at = address.lastIndexOf('@');
    if (at < 0) return false;
    const domain = address.slice(at + 1);
    return !this.appendDotMydomain || domain.includes('.') || domain.startsWith('[');
  }

  /** Stops the body-check and signing pools, if they were started. */
  async close(): Promise<void> {
    await Promise.all([this.pool.close(), this.signer?.close()]);
  }

  /**
   * Authentication-Results headers that claim our authserv-id came from
   * outside (RFC 8601 section 5): they are removed, so the one this host
   * adds is the only one a reader can trust.
   */
  private dropForgedResults(buf: Buffer, headers: HeaderField[], authservId: string, verdict: Verdict): void {
    const ours = authservId.toLowerCase();
    for (let i = 0; i < headers.length; i++) {
      if (headers[i].name !== 'authentication-results') continue;
      const id = headerValue(buf, headers[i]).replace(/\([^)]*\)/g, ' ').trim().split(/[\s;]+/)[0]?.toLowerCase();
      if (id === ours) editsOf(verdict).ignored.add(i);
    }
  }

  /**
   * ARC-seals mail verified by smtpd whose recipient arc_signing_table
   * lists, then DKIM-signs mail whose From: address dkim_signing_table
   * lists (only local mail with dkim_sign_local_only): the new header
   * fields go on top of the message as the store will keep it. A failure
   * leaves the message as it was, with a warning. A chain whose newest
   * seal already says cv=fail is not sealed again (RFC 8617 section 5.1
   * step 2: the chain ends at the hop that found it broken), with an info
   * line.
   */
  private async signAndSeal(message: { bytes: Buffer; headerLength: number }, input: CleanupInput, sender: string): Promise<{ bytes: Buffer; headerLength: number }> {
    const signer = this.signer!;
    let { bytes, headerLength } = message;
    const prepend = (text: string): void => {
      const head = Buffer.from(text, 'utf8');
      bytes = Buffer.concat([head, bytes]);
      headerLength += head.length;
    };
    if (input.authResults) {
      const key = signer.arcKey(input.recipients.map((r) => r.address));
      if (key) {
        const payload = input.authResults.value.slice(input.authResults.value.indexOf(';') + 1).replace(/\r\n\s*/g, ' ').trim();
        const r = await signer.sign('arc', bytes, [key], { cv: input.authResults.arcCv, authResults: `${input.authResults.authservId}; ${payload}` });
        if ('error' in r) this.log.warning(`${input.queueId}: ARC seal with ${key.selector}._domainkey.${key.domain} failed: ${r.error}`);
        else if ('skipped' in r) this.log.queue(input.queueId, `no ARC set added: ${r.skipped}`);
        else prepend(r.headers);
      }
    }
    const local = input.local || Boolean(input.client.saslUser) || this.rewriteClients.inMynetworks(input.client);
    if (signer.localOnly && !local) return { bytes, headerLength };
    const from = authorAddress(bytes, headerLength) || sender;
    let keys;
    try {
      keys = signer.dkimKeys(from);
    } catch (err) {
      this.log.warning(`${input.queueId}: dkim_signing_table lookup for <${from}> failed: ${(err as Error).message}`);
      return { bytes, headerLength };
    }
    if (keys.length === 0) return { bytes, headerLength };
    const r = await signer.sign('dkim', bytes, keys);
    if ('error' in r) this.log.warning(`${input.queueId}: DKIM signature for <${from}> failed: ${r.error}`);
    else if ('headers' in r) {
      prepend(r.headers);
      this.log.queue(input.queueId, `DKIM-Signature field added (${keys.map((k) => `s=${k.selector}, d=${k.domain}`).join('; ')})`);
    }
    return { bytes, headerLength };
  }

  /**
   * A check that could not finish defers the message, logged as Postfix's
   * cleanup does: the table's own complaint first, then "QUEUEID: MAP map
   * lookup problem -- message not accepted, try again later".
   */
  private lookupProblem(input: CleanupInput, map: CheckMap | undefined, err: Error, verdict: Verdict): void {
    this.log.warning(err.message);
    const what = map ? `${map} map lookup problem` : `content check failed`;
    this.log.warning(`${input.queueId}: ${what} -- message not accepted, try again later`);
    verdict.reject = `4.3.0 ${what}`;
  }

  /** Logs each fired check and folds it into the verdict. */
  private judge(events: CheckEvent[], input: CleanupInput, verdict: Verdict): void {
    for (const e of events) {
      switch (e.verb) {
        case 'REJECT': {
          const reason = rejectReason(e.text);
          this.log.queue(input.queueId, actionLogText('reject', e, input, reason));
          verdict.reject ??= reason;
          return;
        }
        case 'DISCARD':
          this.log.queue(input.queueId, actionLogText('discard', e, input, e.text));
          verdict.discard ??= e.text || 'discarded by content check';
          return;
        case 'HOLD':
          this.log.queue(input.queueId, actionLogText('hold', e, input, e.text));
          verdict.hold = true;
          break;
        case 'WARN':
          this.log.queue(input.queueId, actionLogText('warning', e, input, e.text));
          break;
        case 'INFO':
          this.log.queue(input.queueId, actionLogText('info', e, input, e.text));
          break;
        case 'REDIRECT':
        case 'BCC': {
          const redirect = e.verb === 'REDIRECT';
          if (!isMailAddress(e.text)) {
            this.log.warning(`bad ${redirect ? 'REDIRECT target' : 'BCC address'} "${e.text}" in ${e.map} map -- need "user@domain"`);
            break;
          }
          this.log.queue(input.queueId, actionLogText(redirect ? 'redirect' : 'bcc', e, input, e.text));
          if (redirect) verdict.redirect = e.text;
          else (verdict.bcc ??= []).push(e.text);
          break;
        }
        case 'FILTER':
          if (!/^[^:\s]+:\S*$/.test(e.text)) {
            this.log.warning(`bad FILTER action "${e.text}" in ${e.map} map -- need "transport:destination"`);
            break;
          }
          this.log.queue(input.queueId, actionLogText('filter', e, input, e.text));
          verdict.filter = e.text;
          break;
        case 'IGNORE':
          // Primary headers are dropped by runHeaderChecks; these are MIME part headers and body lines, deleted as Postfix does.
          if (e.start !== undefined && e.end !== undefined) editsOf(verdict).body.push({ start: e.start, end: e.end, replace: true });
          break;
        case 'PREPEND':
          this.prepend(e, input, verdict);
          break;
        case 'REPLACE':
          if (e.where === 'header') {
            this.replace(e, input, verdict);
            break;
          }
          this.log.warning(`${input.queueId}: unsupported content check action: REPLACE ${e.text}`);
          break;
        default:
          this.log.warning(`${input.queueId}: unsupported content check action: ${e.text}`);
      }
    }
  }

  /**
   * What smtpd's access results and policy servers asked (logged by smtpd
   * when they fired): the content checks may add to it, and a REJECT of
   * theirs still wins, as in Postfix.
   */
  private takeSmtpdActions(input: CleanupInput, verdict: Verdict): void {
    const a = input.actions!;
    if (a.hold) verdict.hold = true;
    if (a.discard !== undefined) verdict.discard = a.discard || 'discarded by an access rule';
    if (a.filter !== undefined) verdict.filter = a.filter;
    if (a.redirect !== undefined) verdict.redirect = a.redirect;
    if (a.bcc && a.bcc.length > 0) verdict.bcc = [...a.bcc];
    if (a.prepend && a.prepend.length > 0) verdict.smtpdPrepend = a.prepend.filter((h) => isHeaderText(h) && !/[\r\n]/.test(h));
  }

  /** The envelope rewrite; with receive_override_options = no_address_mappings, addresses stay as received. */
  private rewriteFor(input: CleanupInput): RewriteFn {
    if (!input.receiveOverride?.noAddressMappings) return this.rewrite;
    return async (address) => ({ addresses: [address] });
  }

  /** PREPEND: a header line before the matched header, or a line before the matched body line. */
  private prepend(e: CheckEvent, input: CleanupInput, verdict: Verdict): void {
    if (!e.text) {
      this.log.warning(`PREPEND action without text in ${e.map} map`);
      return;
    }
    if (e.where === 'header' && !isHeaderText(e.text)) {
      this.log.warning(`bad PREPEND header text "${e.text}" in ${e.map} map -- need "headername: headervalue"`);
      return;
    }
    this.log.queue(input.queueId, actionLogText('prepend', e, input, e.text));
    const edits = editsOf(verdict);
    if (e.index !== undefined) {
      const list = edits.prepend.get(e.index);
      if (list) list.push(e.text);
      else edits.prepend.set(e.index, [e.text]);
    } else if (e.start !== undefined && e.end !== undefined) {
      edits.body.push({ start: e.start, end: e.end, text: e.text, replace: false });
    }
  }

  /** REPLACE: the matched header (primary or MIME part) gives way to the text. */
  private replace(e: CheckEvent, input: CleanupInput, verdict: Verdict): void {
    if (!e.text) {
      this.log.warning(`REPLACE action without text in ${e.map} map`);
      return;
    }
    if (!isHeaderText(e.text)) {
      this.log.warning(`bad REPLACE header text "${e.text}" in ${e.map} map -- need "headername: headervalue"`);
      return;
    }
    this.log.queue(input.queueId, actionLogText('replace', e, input, e.text));
    const edits = editsOf(verdict);
    if (e.index !== undefined) edits.replace.set(e.index, e.text);
    else if (e.start !== undefined && e.end !== undefined) edits.body.push({ start: e.start, end: e.end, text: e.text, replace: true });
  }

  /**
   * The envelope again, with REDIRECT's one recipient instead of all
   * others, or the BCC recipients after the given ones, so added addresses
   * get the same canonical and virtual alias handling and duplicate filter.
   * A REDIRECT also covers the BCC recipients, as Postfix's queue manager
   * redirects every recipient of the message.
   */
  private redirectEnvelope(input: CleanupInput, verdict: Verdict): Promise<EnvelopeResult> {
    const recipients: RecipientSpec[] =
      verdict.redirect !== undefined
        ? [{ address: verdict.redirect }]
        : // Postfix adds a BCC address as if with NOTIFY=NONE: a failed copy must not reveal it to the sender.
          [...input.recipients, ...(verdict.bcc ?? []).map((address): RecipientSpec => ({ address, notify: ['NEVER'] }))];
    return rewriteEnvelope(this.rewriteFor(input), input.sender, recipients, this.keepOriginal);
  }

  /**
   * Whether a spooled message must be read whole: body_checks and the MIME
   * checks walk the body, and DKIM signing, ARC sealing and milters need
   * all of it (a milter is sent the body anyway). The memory is then
   * bounded by message_size_limit per message, as for a message under the
   * spool threshold.
   */
  private needsWholeBody(input: CleanupInput, prefix: Buffer, headers: HeaderField[]): boolean {
    if (this.signer || input.milters || (input.nonSmtpdMilters && this.nonSmtpdMilters.milters.length > 0)) return true;
    return input.receiveOverride?.noHeaderBodyChecks !== true && this.needsBodyWalk(prefix, headers);
  }

  /**
   * body_checks always need the walk; mime_header_checks, nested_header_checks,
   * and the MIME nesting limit when it is reported, only when the message has
   * MIME parts.
   */
  private needsBodyWalk(buf: Buffer, headers: HeaderField[]): boolean {
    if (this.bodyChecks) return true;
    if (!this.mimeHeaderChecks && !this.nestedHeaderChecks && !this.reportNesting) return false;
    return /^\s*(multipart|message)\//i.test(contentTypeOf(buf, headers));
  }

  private async bodyWalk(buf: Buffer, bodyStart: number, headers: HeaderField[], input: CleanupInput, verdict: Verdict): Promise<void> {
    const result = await this.pool.run(
      {
        content: buf,
        bodyStart,
        contentType: contentTypeOf(buf, headers),
        bodyChecks: this.bodyChecks,
        mimeHeaderChecks: this.mimeHeaderChecks,
        nestedHeaderChecks: this.nestedHeaderChecks,
        dir: this.config.dir,
        bodySizeLimit: this.bodySizeLimit,
        nestingLimit: this.nestingLimit,
        reportNesting: this.reportNesting,
        lineLength: this.lineLength,
      },
      this.bodyTimeLimitMs,
    );
    if ('timeout' in result) {
      this.log.warning(`${input.queueId}: body_checks_time_limit (${this.bodyTimeLimitMs / 1000} s) exceeded -- message not accepted, try again later`);
      verdict.reject = '4.3.0 body_checks_time_limit exceeded';
      return;
    }
    if ('error' in result) throw result.map ? new ContentCheckError(result.map, result.error) : new Error(result.error);
    this.judge(result.events, input, verdict);
    if (result.nesting !== undefined && !verdict.reject && verdict.discard === undefined) {
      this.log.queue(input.queueId, mimeErrorLogText(NESTING_ERROR, result.nesting, input));
      verdict.reject = `5.6.0 ${NESTING_ERROR}`;
    }
  }

  /** The From/Date/Message-ID headers to add, and the Message-ID value to log. */
  private missingHeaders(
    buf: Buffer,
    headers: HeaderField[],
    edits: ContentEdits | undefined,
    input: CleanupInput,
    sender: string,
  ): { added: string; messageId?: string } {
    let from = false;
    let date = false;
    let messageId: string | undefined;
    if (!edits) {
      for (const h of headers) {
        if (h.name === 'from') from = true;
        else if (h.name === 'date') date = true;
        else if (h.name === 'message-id' && messageId === undefined) messageId = headerValue(buf, h);
      }
    } else {
      // The headers as written decide: an IGNOREd Date is missing, a REPLACEd Message-ID is the one logged.
      for (const h of outputHeaders(buf, headers, edits)) {
        if (h.name === 'from') from = true;
        else if (h.name === 'date') date = true;
        else if (h.name === 'message-id' && messageId === undefined) messageId = h.value;
      }
    }
    if (!this.rewriteClients.matches(input.client, input.local)) return { added: '', messageId };
    let added = '';
    if (messageId === undefined) {
      messageId = `<${gmtStamp(input.arrivalTime)}.${input.queueId}@${this.myhostname}>`;
      added += `Message-Id: ${messageId}\r\n`;
    }
    if (!date) added += `Date: ${mailDate(input.arrivalTime)}\r\n`;
    if (!from) added += `From: ${fromHeaderValue(sender || 'MAILER-DAEMON', input.fullName)}\r\n`;
    return { added, messageId };
  }
}

/** Where a message came from, as cleanup's log lines name it. */
function origin(input: CleanupInput): string {
  return input.local || input.client.protocol === 'local' ? 'local' : `${input.client.name}[${input.client.addr}]`;
}

/** "from=<s> to=<r> proto=P helo=<h>" of a log line. */
function envelopeText(input: CleanupInput): string {
  let out = `from=<${input.sender}>`;
  if (input.recipients.length > 0) out += ` to=<${input.recipients[0].address}>`;
  if (input.client.protocol) out += ` proto=${input.client.protocol}`;
  const helo = input.heloName || input.client.helo;
  if (helo) out += ` helo=<${helo}>`;
  return out;
}

/** The macros non_smtpd_milters get for a local submission: Postfix's cleanup values. */
function localMacros(input: CleanupInput, myhostname: string, settings: MilterSettings): (name: string) => string | undefined {
  return (name) => {
    switch (name) {
      case '{i}':
        return input.queueId;
      case '{j}':
        return myhostname;
      case '{_}':
        return 'localhost [127.0.0.1]';
      case '{daemon_name}':
        return settings.daemonName;
      case '{v}':
        return settings.v;
      case '{client_addr}':
        return '127.0.0.1';
      case '{client_name}':
      case '{client_ptr}':
        return 'localhost';
      case '{mail_addr}':
        return input.sender;
      default:
        return undefined;
    }
  };
}

/** The address of the From: header of a finished message ("" when none): the author DKIM signs for. */
function authorAddress(bytes: Buffer, headerLength: number): string {
  const head = bytes.toString('latin1', 0, headerLength);
  const m = /(?:^|\r\n)from:((?:[^\r]|\r\n[ \t])*)/i.exec(head);
  if (!m) return '';
  const value = m[1].replace(/\r\n/g, '').replace(/\([^()]*\)/g, ' ');
  const angle = /<([^<>]*)>/.exec(value);
  return (angle ? angle[1] : value).trim().split(/[\s,]+/)[0] ?? '';
}

/** The verdict's edits, made on first use. */
function editsOf(verdict: Verdict): ContentEdits {
  return (verdict.edits ??= noEdits());
}

/** The primary Content-Type value, "" when absent. */
/** The first `length` bytes of a file. */
async function readPrefix(path: string, length: number): Promise<Buffer> {
  const fh = await open(path, 'r');
  try {
    const buf = Buffer.allocUnsafe(length);
    let got = 0;
    while (got < length) {
      const { bytesRead } = await fh.read(buf, got, length - got, got);
      if (bytesRead === 0) break;
      got += bytesRead;
    }
    return buf.subarray(0, got);
  } finally {
    await fh.close();
  }
}

function contentTypeOf(buf: Buffer, headers: HeaderField[]): string {
  const h = headers.find((f) => f.name === 'content-type');
  return h ? headerValue(buf, h) : '';
}

/** The Received: headers of the primary header (the hops the message has made). */
/**
 * RFC 8689 section 4.1: "TLS-Required: No" asks that TLS failures not stop
 * delivery; any other value is logged and ignored, as Postfix's cleanup does.
 */
function tlsRequiredNo(buf: Buffer, headers: readonly HeaderField[], log: Logger, queueId: string): boolean {
  let no = false;
  for (const h of headers) {
    if (h.name !== 'tls-required') continue;
    if (headerValue(buf, h).toLowerCase() === 'no') no = true;
    else log.warning(`${queueId}: ignoring malformed header: '${unfoldHeader(buf, h).slice(0, 100)}'`);
  }
  return no;
}

function countReceived(headers: readonly HeaderField[]): number {
  let n = 0;
  for (const h of headers) if (h.name === 'received') n++;
  return n;
}

/**
 * The From: value cleanup adds, in Postfix's standard form: "Full Name
 * <address>" with sendmail -F's name (quoted when it holds RFC 5322
 * specials), else the bare address.
 */
export function fromHeaderValue(address: string, fullName: string | undefined): string {
  const name = (fullName ?? '').replace(/[\r\n]+/g, ' ').trim();
  if (!name) return address;
  const shown = /^[A-Za-z0-9!#$%&'*+\-/=?^_`{|}~ \x80-\uffff]+$/.test(name) ? name : `"${name.replace(/(["\\])/g, '\\$1')}"`;
  return `${shown} <${address}>`;
}
