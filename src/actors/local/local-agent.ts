/**
 * local-agent: Postfix's local(8) as a library. For each recipient, in
 * local(8)'s order: the Delivered-To: loop check, alias_maps (one-to-many,
 * recursive, :include: lists, "|command", "/file", "\user", owner-name as
 * the sender of list mail), then the user from the passwd database (else
 * luser_relay, else "unknown user"), the user's .forward (forward_path),
 * then the mailbox: mailbox_command, home_mailbox (mbox or Maildir/) or an
 * mbox under mail_spool_directory. Local addresses in an expansion are
 * delivered here, recursively; others are forwarded as one new message
 * per sender through cleanup. Each final delivery is logged as Postfix
 * logs it (to=<final>, orig_to=<original>, relay=local, ... (delivered to
 * mailbox)); the request's recipient gets the worst outcome of its tree
 * (deferred over bounced over delivered), so a deferred part is tried
 * again, as in Postfix. A verify-only request (sendmail -bv) expands
 * aliases, .forward and :include: files as a delivery would, and stops
 * where a delivery would write: "delivers to mailbox" (maildir, command:
 * X, file: X); forwarded addresses go into a verify-only copy that reports
 * on them in turn; the outcome lists each final address (trace). A recipient that an alias or .forward expanded
 * and that asked NOTIFY=SUCCESS is reported "expanded" (local-dsn), and
 * the forwarded copies carry its NOTIFY without SUCCESS, its ORCPT, ENVID
 * and RET.
 * Mailbox, file and command deliveries run in child processes as the
 * user (local-privs); aliases' commands and files as the alias file's
 * owner, or default_privs when root owns it; never as root.
 * deliver() never rejects.
 */
import { stat } from 'node:fs/promises';
import { join } from 'node:path';
import type { MainConfig } from '../../config/main-config.js';
import { splitList } from '../../config/main-config.js';
import { withParameterDefaults } from '../../config/parameter-defaults.js';
import { openAliasTable, isTextTable } from '../../config/table-aliases.js';
import { splitSpec, tablePath, type LookupTable } from '../../config/lookup-table.js';
import { compileDomainList, type DomainMatcher } from '../../config/access-lookup.js';
import type { DeliveryOutcome, DeliveryRequest, DeliveryResult } from '../../protocol/protocol.js';
import type { BodyLocation, DsnNotify } from '../../store/store-types.js';
import { expandedOutcome, notifyForExpansion } from './local-dsn.js';
import { formatDelivery, observeStages, softBounceOutcome, statusWord } from '../../global/delivery-log.js';
import { verifyStatus } from '../../global/verify-only.js';
import { count, label, observe } from '../../util/metrics-counters.js';
import type { Logger } from '../../util/log.js';
import { expandTemplate, type ExpandAttrs } from './local-expand.js';
import { readListFile, splitListText } from './local-files.js';
import { runCommand } from './local-command.js';
import { runMailboxChild, type Privileges } from './local-privs.js';
import { lookupUser as getpwnam, type UserAttr } from './local-users.js';
import { asctime, type LocalChildJob } from './local-child.js';
import { crlfToLf } from '../../util/line-ends.js';

/** Every parameter the local agent reads (defaults from the parameter table). */
const LOCAL_PARAMETERS = [
  'alias_maps', 'mail_spool_directory', 'home_mailbox', 'mailbox_command', 'mailbox_size_limit', 'forward_path',
  'allow_mail_to_commands', 'allow_mail_to_files', 'default_privs', 'command_time_limit', 'luser_relay',
  'owner_request_special', 'expand_owner_alias', 'deliver_lock_attempts', 'deliver_lock_delay', 'stale_lock_time',
  'prepend_delivered_header', 'require_home_directory', 'strict_mailbox_ownership', 'export_environment',
  'recipient_delimiter', 'propagate_unmatched_extensions', 'myorigin', 'mydestination', 'soft_bounce', 'mailbox_delivery_lock',
] as const;

/** The deepest alias / .forward / :include: nesting before the recipient is bounced as a loop. */
const MAX_DEPTH = 100;

/** What the local agent is built with. */
export interface LocalAgentOptions {
  config: MainConfig;
  log: Logger;
  readContent: (location: BodyLocation) => Promise<Buffer>;
  /** Queues a new message (CRLF content) for forwarded addresses; resolves to its queue id, rejects on failure. */
  forward: (input: ForwardInput) => Promise<string>;
  /** getpwnam (tests may stand in for the system). */
  lookupUser?: (name: string) => Promise<UserAttr | undefined>;
}

/** A new message for the addresses an expansion forwards, with the DSN fields they inherit. */
export interface ForwardInput {
  sender: string;
  recipients: string[];
  content: Buffer;
  arrivalTime: number;
  origRcpt?: string;
  notify?: DsnNotify[];
  orcpt?: string;
  envid?: string;
  ret?: 'FULL' | 'HDRS';
  /** sendmail -bv: the new message is verify-only as well. */
  verify?: boolean;
}

/** Where a destination came from: allow_mail_to_commands / allow_mail_to_files name these. */
type ExpansionSource = 'alias' | 'forward' | 'include' | undefined;

/** One final delivery of a recipient's tree. */
interface SubResult {
  to: string;
  state: DeliveryOutcome['state'];
  dsn: string;
  reason: string;
}

/** The state of one request recipient's delivery. */
interface Attempt {
  req: DeliveryRequest;
  origTo: string;
  content: Buffer;
  /** Delivered-To: values already in the message (lower case). */
  deliveredTo: Set<string>;
  results: SubResult[];
  /** Addresses to forward: (sender, Delivered-To) -> addresses. */
  forwards: Map<string, { sender: string; delivered: string; addresses: string[] }>;
  seen: Set<string>;
  /** The request's recipient, whose NOTIFY and ORCPT the expansions inherit. */
  rcpt: DeliveryRequest['recipients'][number];
  /** An alias or .forward expanded the recipient itself. */
  expanded: boolean;
  /** That alias had an owner- alias, which became the sender (a mailing list). */
  ownerSender: boolean;
}

/** Where one address is being delivered from. */
interface Context {
  address: string;
  sender: string;
  privs?: Privileges;
  source: ExpansionSource;
  depth: number;
  chain: readonly string[];
}

/** An alias table and the owner of its file (undefined: not a file). */
interface AliasSource {
  table: LookupTable;
  file?: string;
  mtimeMs?: number;
}

/** The local delivery agent. */
export class LocalAgent {
  private readonly config: MainConfig;
  private readonly lookupUser: (name: string) => Promise<UserAttr | undefined>;
  private aliases: AliasSource[] | undefined;
  private readonly mydestination: DomainMatcher;

  constructor(private readonly opts: LocalAgentOptions) {
    this.config = withParameterDefaults(opts.config, LOCAL_PARAMETERS);
    this.lookupUser = opts.lookupUser ?? getpwnam;
    this.mydestination = compileDomainList(splitList(this.config.get('mydestination')), this.config.dir, false);
  }

  /** main.cf's value of a name a template uses that is no recipient attribute. */
  private readonly param = (name: string): string => this.config.get(name);

  /** Delivers every recipient of `req`. */
  async deliver(req: DeliveryRequest): Promise<DeliveryResult> {
    const start = Date.now();
    const outcomes: DeliveryOutcome[] = [];
    let content: Buffer | undefined;
    let failure: SubResult | undefined;
    try {
      await this.openAliases();
    } catch (err) {
      failure = { to: '', state: 'deferred', dsn: '4.3.5', reason: `mail system configuration error: ${(err as Error).message}` };
    }
    if (!failure) {
      try {
        content = crlfToLf(await this.opts.readContent(req.location));
      } catch (err) {
        failure = { to: '', state: 'deferred', dsn: '4.3.0', reason: `error reading queue file: ${(err as Error).message}` };
      }
    }
    // The dotlock is the one lock Node can take: a value without it is a configuration error (check says so too).
    if (!failure && !splitList(this.config.get('mailbox_delivery_lock')).some((m) => m.toLowerCase() === 'dotlock')) {
      failure = { to: '', state: 'deferred', dsn: '4.3.5', reason: 'mail system configuration error: mailbox_delivery_lock must name dotlock' };
    }
    const softBounce = this.config.bool('soft_bounce') && !req.verify;
    for (const r of req.recipients) {
      const origTo = r.origRcpt ?? r.address;
      const att: Attempt = {
        req, origTo, content: content ?? Buffer.alloc(0), deliveredTo: deliveredToHeaders(content), results: [], forwards: new Map(), seen: new Set(),
        rcpt: r, expanded: false, ownerSender: false,
      };
      if (failure) {
        att.results.push({ ...failure, to: r.address });
      } else {
        const ctx: Context = { address: r.address, sender: req.sender, source: undefined, depth: 0, chain: [] };
        try {
          await this.deliverRecipient(att, ctx);
          await this.flushForwards(att);
        } catch (err) {
          att.results.push({ to: r.address, state: 'deferred', dsn: '4.3.0', reason: `local delivery failed: ${(err as Error).message}` });
        }
      }
      const end = Date.now();
      let worst: SubResult | undefined;
      if (req.verify) att.results = att.results.map((sub) => (sub.state === 'deferred' ? { ...sub, state: 'bounced' } : sub));
      for (const sub of att.results) {
        const shown = softBounce && sub.state === 'bounced' ? { ...sub, ...softBounceOutcome({ index: r.index, ...sub, relay: 'local' }) } : sub;
        this.logResult(req, sub.to, origTo, shown, sub.state === 'bounced' && softBounce, start, end);
        if (!worst || rank(shown.state) > rank(worst.state)) worst = shown;
      }
      worst ??= { to: r.address, state: 'delivered', dsn: '2.0.0', reason: 'delivered to nobody: every destination was a duplicate' };
      const outcome: DeliveryOutcome = { index: r.index, state: worst.state, dsn: worst.dsn, reason: worst.reason, relay: 'local' };
      const expanded = worst.state === 'delivered' && !req.verify ? expandedOutcome(att.expanded, att.ownerSender, r.notify) : undefined;
      // sendmail -bv: the report names each final address of an expansion.
      if (req.verify && att.expanded) outcome.trace = att.results.map((s) => ({ address: s.to, state: s.state === 'delivered' ? 'delivered' : 'bounced', dsn: s.dsn, reason: s.reason }));
      outcomes.push(expanded ? { ...outcome, ...expanded } : outcome);
    }
    const end = Date.now();
    return { outcomes, connectSeconds: 0, transmitSeconds: (end - start) / 1000 };
  }

  /** Logs one final delivery as Postfix does and counts it. */
  private logResult(req: DeliveryRequest, to: string, origTo: string, sub: SubResult, soft: boolean, start: number, end: number): void {
    const labels = label('transport', req.transport);
    if (req.verify) return this.opts.log.queue(req.queueId, formatDelivery({ to, origTo, relay: 'local', arrivalTime: req.arrivalTime, activeTime: req.activeTime, connectStart: start, transmitStart: start, end, dsn: sub.dsn, status: verifyStatus(sub.state), reason: sub.reason }));
    count(sub.state === 'delivered' ? 'recipients_delivered' : sub.state === 'bounced' ? 'recipients_bounced' : 'recipients_deferred', labels);
    if (sub.state === 'delivered') observe('delivery_latency_seconds', Math.max(0, end - req.arrivalTime) / 1000, labels);
    observeStages(req.transport, req.activeTime, req.arrivalTime, { connectStart: start, transmitStart: start, end });
    this.opts.log.queue(
      req.queueId,
      formatDelivery({
        to,
        origTo,
        relay: 'local',
        arrivalTime: req.arrivalTime,
        activeTime: req.activeTime,
        connectStart: start,
        transmitStart: start,
        end,
        dsn: sub.dsn,
        status: req.verify ? verifyStatus(sub.state) : soft ? 'SOFTBOUNCE' : statusWord(sub.state),
        reason: sub.reason,
      }),
    );
  }

  /** Opens alias_maps, again when one of its files changed. */
  private async openAliases(): Promise<AliasSource[]> {
    if (this.aliases) {
      let changed = false;
      for (const a of this.aliases) {
        if (a.file && (await stat(a.file).catch(() => undefined))?.mtimeMs !== a.mtimeMs) changed = true;
      }
      if (!changed) return this.aliases;
    }
    const sources: AliasSource[] = [];
    for (const spec of splitList(this.config.get('alias_maps'))) {
      const table = openAliasTable(spec, this.config.dir);
      const parts = splitSpec(spec.startsWith('proxy:') ? spec.slice(6) : spec);
      if (parts && isTextTable(spec)) {
        const file = tablePath(parts.name, this.config.dir);
        sources.push({ table, file, mtimeMs: (await stat(file)).mtimeMs });
      } else sources.push({ table });
    }
    this.aliases = sources;
    return sources;
  }

  /** The first alias table that answers `key`, and its value. */
  private findAlias(key: string): { value: string; source: AliasSource } | undefined {
    for (const source of this.aliases ?? []) {
      const value = source.table.get(key);
      if (value !== undefined) return { value, source };
    }
    return undefined;
  }

  /** local(8)'s deliver_recipient: loop check, aliases, user, .forward, mailbox. */
  private async deliverRecipient(att: Attempt, ctx: Context, opts: { noAlias?: boolean; noForward?: boolean } = {}): Promise<void> {
    const address = ctx.address;
    const lower = address.toLowerCase();
    if (ctx.depth > MAX_DEPTH || att.deliveredTo.has(lower)) {
      att.results.push({ to: address, state: 'bounced', dsn: '5.4.6', reason: `mail forwarding loop for ${address}` });
      return;
    }
    const parts = this.splitRecipient(address);
    if (!opts.noAlias) {
      const keys = parts.extension ? [parts.local, parts.user] : [parts.local];
      for (const key of keys) {
        const hit = this.findAlias(key);
        if (!hit) continue;
        if (ctx.depth === 0) att.expanded = true;
        await this.expandAlias(att, ctx, key, hit.value, hit.source, key === parts.user ? parts.extension : '');
        return;
      }
    }
    const user = await this.lookupUser(parts.user);
    if (!user) {
      const relay = this.config.get('luser_relay').trim();
      if (relay) {
        const target = expandTemplate(relay, this.attrs(address, parts), this.param);
        await this.deliverToken(att, { ...ctx, depth: ctx.depth + 1, chain: [...ctx.chain, `luser:${parts.user}`] }, target);
        return;
      }
      att.results.push({ to: address, state: 'bounced', dsn: '5.1.1', reason: `unknown user: "${parts.user}"` });
      return;
    }
    if (this.config.bool('require_home_directory') && !(await stat(user.home).catch(() => undefined))) {
      att.results.push({ to: address, state: 'deferred', dsn: '4.3.0', reason: `user ${user.name}: home directory ${user.home} is not accessible` });
      return;
    }
    if (!opts.noForward && !ctx.chain.includes(`forward:${user.name}`)) {
      const attrs = this.attrs(address, parts, user);
      for (const template of splitList(this.config.get('forward_path'))) {
        const path = expandTemplate(template, attrs, this.param);
        if (!path.startsWith('/')) continue;
        const file = await readListFile(path, (t) => this.opts.log.warning(t), user.uid);
        if (!file) continue;
        if (ctx.depth === 0) att.expanded = true;
        const privs = await this.privilegesOf(user);
        const next: Context = { ...ctx, privs, source: 'forward', depth: ctx.depth + 1, chain: [...ctx.chain, `forward:${user.name}`] };
        for (const token of splitListText(file.text)) {
          // "\user" in a user's own .forward keeps a copy in the mailbox.
          await this.deliverToken(att, next, token, user);
        }
        return;
      }
    }
    await this.deliverMailbox(att, ctx, user, parts);
  }

  /** Expands one alias: owner-name sender, privileges of the alias file, each destination. */
  private async expandAlias(att: Attempt, ctx: Context, name: string, value: string, source: AliasSource, extension: string): Promise<void> {
    const mark = `alias:${name}`;
    if (ctx.chain.includes(mark)) {
      att.results.push({ to: ctx.address, state: 'bounced', dsn: '5.4.6', reason: `mail forwarding loop for ${ctx.address}` });
      return;
    }
    let sender = ctx.sender;
    if (this.config.bool('owner_request_special') && !name.startsWith('owner-')) {
      const owner = this.findAlias(`owner-${name}`);
      if (owner) {
        const list = splitListText(owner.value);
        sender = this.config.bool('expand_owner_alias') && list.length === 1 && !/^[|/:\\]/.test(list[0]) ? this.qualify(list[0]) : this.qualify(`owner-${name}`);
        if (ctx.depth === 0) att.ownerSender = true;
      }
    }
    // Commands and files of an alias run as the alias file's owner; as default_privs when root owns it.
    let owner: { uid: number; gid: number } | undefined;
    if (source.file) owner = await stat(source.file).then((s) => ({ uid: s.uid, gid: s.gid })).catch(() => undefined);
    const privs = owner && owner.uid !== 0 ? { user: `uid ${owner.uid}`, uid: owner.uid, gid: owner.gid } : await this.defaultPrivs();
    const propagate = extension !== '' && splitList(this.config.get('propagate_unmatched_extensions')).includes('alias');
    const next: Context = { ...ctx, sender, privs, source: 'alias', depth: ctx.depth + 1, chain: [...ctx.chain, mark] };
    for (let token of splitListText(value)) {
      if (propagate && !/^[|/:\\"]/.test(token)) token = withExtension(token, this.delimiterOf(), extension);
      await this.deliverToken(att, next, token);
    }
  }

  /** One destination of an alias, .forward or :include: list. */
  private async deliverToken(att: Attempt, ctx: Context, token: string, forwardUser?: UserAttr): Promise<void> {
    const t = token.trim();
    if (!t) return;
    if (t.startsWith('|')) return this.deliverCommand(att, ctx, t.slice(1).trim());
    if (t.toLowerCase().startsWith(':include:')) return this.deliverInclude(att, ctx, t.slice(9).trim());
    if (t.startsWith('/')) return this.deliverFile(att, ctx, t);
    if (t.startsWith('\\')) {
      const name = t.slice(1).trim();
      const address = this.qualify(name);
      const user = forwardUser && forwardUser.name === this.splitRecipient(address).user ? forwardUser : undefined;
      return this.deliverRecipient(att, { ...ctx, address, depth: ctx.depth + 1 }, { noAlias: true, noForward: user !== undefined });
    }
    const address = this.qualify(t);
    const domain = address.slice(address.lastIndexOf('@') + 1);
    if (this.mydestination.match(domain.toLowerCase())) {
      return this.deliverRecipient(att, { ...ctx, address, depth: ctx.depth + 1 });
    }
    const key = `fwd:${address.toLowerCase()}`;
    if (att.seen.has(key)) return;
    att.seen.add(key);
    const group = `${ctx.sender}\0${ctx.address.toLowerCase()}`;
    const entry = att.forwards.get(group) ?? { sender: ctx.sender, delivered: ctx.address.toLowerCase(), addresses: [] };
    entry.addresses.push(address);
    att.forwards.set(group, entry);
  }

  /** True when `source` may deliver to commands (files) per allow_mail_to_commands (files). */
  private allowed(param: 'allow_mail_to_commands' | 'allow_mail_to_files', source: ExpansionSource): boolean {
    return source !== undefined && splitList(this.config.get(param)).map((s) => s.toLowerCase()).includes(source);
  }

  private async deliverCommand(att: Attempt, ctx: Context, command: string): Promise<void> {
    if (!this.allowed('allow_mail_to_commands', ctx.source)) {
      att.results.push({ to: ctx.address, state: 'bounced', dsn: '5.7.1', reason: 'mail to command is restricted' });
      return;
    }
    const privs = ctx.privs && ctx.privs.uid !== 0 ? ctx.privs : await this.defaultPrivs();
    const key = `cmd:${privs.uid}:${command}`;
    if (att.seen.has(key)) return;
    att.seen.add(key);
    if (att.req.verify) {
      att.results.push({ to: ctx.address, state: 'delivered', dsn: '2.0.0', reason: `delivers to command: ${command}` });
      return;
    }
    const user = await this.lookupUser(privs.user).catch(() => undefined);
    const copy = this.copyFor(att, ctx, 'command', true);
    const out = await runCommand({
      command,
      privs,
      cwd: user?.home && (await stat(user.home).catch(() => undefined))?.isDirectory() ? user.home : '/',
      env: this.commandEnv(att, ctx, user),
      timeLimitMs: this.config.time('command_time_limit') * 1000,
      copy,
    });
    att.results.push({ to: ctx.address, ...out });
  }

  private async deliverFile(att: Attempt, ctx: Context, path: string): Promise<void> {
    if (!this.allowed('allow_mail_to_files', ctx.source)) {
      att.results.push({ to: ctx.address, state: 'bounced', dsn: '5.7.1', reason: 'mail to file is restricted' });
      return;
    }
    const privs = ctx.privs && ctx.privs.uid !== 0 ? ctx.privs : await this.defaultPrivs();
    const key = `file:${path}`;
    if (att.seen.has(key)) return;
    att.seen.add(key);
    if (att.req.verify) {
      att.results.push({ to: ctx.address, state: 'delivered', dsn: '2.0.0', reason: `delivers to file: ${path}` });
      return;
    }
    const maildir = path.endsWith('/');
    const copy = this.copyFor(att, ctx, 'file', !maildir);
    const res = await runMailboxChild(this.job(maildir ? 'maildir' : 'file', path, ctx.sender, -1), copy, privs);
    if (res.ok) att.results.push({ to: ctx.address, state: 'delivered', dsn: '2.0.0', reason: `delivered to ${maildir ? 'maildir' : 'file'}: ${path}` });
    else att.results.push({ to: ctx.address, state: res.temporary ? 'deferred' : 'bounced', dsn: res.dsn, reason: `cannot append message to file ${path}: ${res.reason}` });
  }

  private async deliverInclude(att: Attempt, ctx: Context, path: string): Promise<void> {
    const mark = `include:${path}`;
    if (ctx.chain.includes(mark)) {
      att.results.push({ to: ctx.address, state: 'bounced', dsn: '5.4.6', reason: `mail forwarding loop for ${ctx.address}` });
      return;
    }
    if (!path.startsWith('/')) {
      att.results.push({ to: ctx.address, state: 'bounced', dsn: '5.3.5', reason: `:include:${path} uses a relative path` });
      return;
    }
    const file = await readListFile(path, (t) => this.opts.log.warning(t));
    if (!file) {
      att.results.push({ to: ctx.address, state: 'deferred', dsn: '4.3.0', reason: `cannot open include file ${path}` });
      return;
    }
    // The list's commands and files run as its owner; as default_privs when root owns it.
    const privs = file.uid !== 0 ? { user: `uid ${file.uid}`, uid: file.uid, gid: file.gid } : await this.defaultPrivs();
    const next: Context = { ...ctx, privs, source: 'include', depth: ctx.depth + 1, chain: [...ctx.chain, mark] };
    for (const token of splitListText(file.text)) await this.deliverToken(att, next, token);
  }

  /** The user's mailbox: mailbox_command, home_mailbox, or the spool. */
  private async deliverMailbox(att: Attempt, ctx: Context, user: UserAttr, parts: RecipientParts): Promise<void> {
    const key = `mailbox:${user.name}`;
    if (att.seen.has(key)) return;
    att.seen.add(key);
    const to = ctx.address;
    const mailboxCommand = this.config.get('mailbox_command').trim();
    if (mailboxCommand && att.req.verify) {
      att.results.push({ to, state: 'delivered', dsn: '2.0.0', reason: `delivers to command: ${expandTemplate(mailboxCommand, this.attrs(to, parts, user), this.param)}` });
      return;
    }
    if (mailboxCommand) {
      const privs = user.uid !== 0 ? { user: user.name, uid: user.uid, gid: user.gid } : await this.defaultPrivs();
      const command = expandTemplate(mailboxCommand, this.attrs(to, parts, user), this.param);
      const out = await runCommand({
        command,
        privs,
        cwd: (await stat(user.home).catch(() => undefined))?.isDirectory() ? user.home : '/',
        env: this.commandEnv(att, ctx, user),
        timeLimitMs: this.config.time('command_time_limit') * 1000,
        copy: this.copyFor(att, ctx, 'mailbox', true),
      });
      att.results.push({ to, ...out });
      return;
    }
    if (user.uid === 0) {
      // Postfix writes root's mailbox as root; Postrider runs no delivery as root.
      att.results.push({ to, state: 'deferred', dsn: '4.3.0', reason: 'mail for root is not delivered as root: alias root to a person in alias_maps (root: you)' });
      return;
    }
    const homeMailbox = this.config.get('home_mailbox').trim();
    let privs: Privileges = { user: user.name, uid: user.uid, gid: user.gid };
    let path: string;
    let maildir = false;
    if (homeMailbox) {
      path = join(user.home, homeMailbox);
      maildir = homeMailbox.endsWith('/');
    } else {
      const spool = this.config.path('mail_spool_directory');
      path = join(spool, user.name);
      // Postfix's least privilege: as the user in a world-writable spool, with the spool's group in a group-writable one.
      const st = await stat(spool).catch(() => undefined);
      if (st && (st.mode & 0o002) === 0) {
        if ((st.mode & 0o020) === 0) {
          att.results.push({ to, state: 'deferred', dsn: '4.3.0', reason: `mail_spool_directory ${spool} is writable by neither the user nor its group (make it mode 1777, or 2775 with a mail group)` });
          return;
        }
        privs = { ...privs, gid: st.gid };
      }
    }
    if (att.req.verify) {
      att.results.push({ to, state: 'delivered', dsn: '2.0.0', reason: `delivers to ${maildir ? 'maildir' : 'mailbox'}` });
      return;
    }
    const copy = this.copyFor(att, ctx, 'mailbox', !maildir);
    const res = await runMailboxChild(this.job(maildir ? 'maildir' : 'mbox', path, ctx.sender, this.config.bool('strict_mailbox_ownership') ? user.uid : -1), copy, privs);
    const kind = maildir ? 'maildir' : 'mailbox';
    if (res.ok) att.results.push({ to, state: 'delivered', dsn: '2.0.0', reason: `delivered to ${kind}` });
    else att.results.push({ to, state: res.temporary ? 'deferred' : 'bounced', dsn: res.dsn, reason: `cannot update ${kind} ${path} for user ${user.name}. ${res.reason}` });
  }

  /** A child job with the lock parameters. */
  private job(kind: LocalChildJob['kind'], path: string, sender: string, ownerUid: number): LocalChildJob {
    return {
      kind,
      path,
      sender,
      sizeLimit: Number(this.config.get('mailbox_size_limit')) || 0,
      ownerUid,
      lockAttempts: Math.max(1, this.config.int('deliver_lock_attempts')),
      lockDelayMs: this.config.time('deliver_lock_delay') * 1000,
      staleLockMs: this.config.time('stale_lock_time') * 1000,
      now: Math.floor(Date.now() / 1000),
    };
  }

  /**
   * The copy a mailbox, file or command gets: Return-Path, X-Original-To,
   * Delivered-To (mailboxes always; commands and files per
   * prepend_delivered_header), then the message with UNIX line ends.
   */
  private copyFor(att: Attempt, ctx: Context, what: 'mailbox' | 'command' | 'file', withFromLine: boolean): Buffer {
    const prepend = splitList(this.config.get('prepend_delivered_header')).map((s) => s.toLowerCase());
    let head = `Return-Path: <${ctx.sender}>\nX-Original-To: ${att.origTo}\n`;
    if (what === 'mailbox' || prepend.includes(what)) head += `Delivered-To: ${ctx.address.toLowerCase()}\n`;
    const copy = Buffer.concat([Buffer.from(head, 'utf8'), att.content]);
    // Commands get the "From " line too (the child writes it for mbox files).
    if (what !== 'command' || !withFromLine) return copy;
    return Buffer.concat([Buffer.from(`From ${ctx.sender || 'MAILER-DAEMON'}  ${asctime(new Date())}\n`), copy]);
  }

  /** The environment local(8) gives a command. */
  private commandEnv(att: Attempt, ctx: Context, user: UserAttr | undefined): Record<string, string> {
    const parts = this.splitRecipient(ctx.address);
    const env: Record<string, string> = { PATH: '/usr/bin:/bin' };
    for (const item of splitList(this.config.get('export_environment'))) {
      const eq = item.indexOf('=');
      if (eq > 0) env[item.slice(0, eq)] = item.slice(eq + 1);
      else if (process.env[item] !== undefined) env[item] = process.env[item]!;
    }
    if (user) Object.assign(env, { HOME: user.home, USER: user.name, LOGNAME: user.name, SHELL: user.shell });
    Object.assign(env, {
      SENDER: ctx.sender,
      RECIPIENT: ctx.address,
      LOCAL: parts.local,
      DOMAIN: parts.domain,
      ORIGINAL_RECIPIENT: att.origTo,
    });
    if (parts.extension) env.EXTENSION = parts.extension;
    return env;
  }

  /** Queues forwarded addresses: one new message per (sender, Delivered-To). */
  private async flushForwards(att: Attempt): Promise<void> {
    const prepend = splitList(this.config.get('prepend_delivered_header')).map((s) => s.toLowerCase()).includes('forward');
    for (const entry of att.forwards.values()) {
      const head = prepend ? `Delivered-To: ${entry.delivered}\n` : '';
      const content = lfToCrlf(Buffer.concat([Buffer.from(head, 'utf8'), att.content]));
      try {
        // The new message's recipients keep the address first received (Postfix's forward keeps orig_rcpt).
        const queueId = await this.opts.forward({ ...this.forwardDsn(att, entry.sender), sender: entry.sender, recipients: entry.addresses, content, arrivalTime: att.req.arrivalTime, origRcpt: att.origTo });
        for (const a of entry.addresses) att.results.push({ to: a, state: 'delivered', dsn: '2.0.0', reason: `forwarded as ${queueId}` });
      } catch (err) {
        for (const a of entry.addresses) att.results.push({ to: a, state: 'deferred', dsn: '4.3.0', reason: `cannot forward: ${(err as Error).message}` });
      }
    }
  }

  /**
   * The DSN fields forwarded copies inherit (RFC 3461 6.2, as Postfix's
   * local(8)): NOTIFY without SUCCESS always; ORCPT, ENVID and RET only
   * when the sender is unchanged (an alias, not an owner- list).
   */
  private forwardDsn(att: Attempt, sender: string): Pick<ForwardInput, 'notify' | 'orcpt' | 'envid' | 'ret' | 'verify'> {
    const out: Pick<ForwardInput, 'notify' | 'orcpt' | 'envid' | 'ret' | 'verify'> = {};
    // sendmail -bv: the forwarded copy is verify-only too, and reports on its own addresses.
    if (att.req.verify) out.verify = true;
    const notify = notifyForExpansion(att.rcpt.notify);
    if (notify) out.notify = notify;
    if (sender !== att.req.sender) return out;
    if (att.rcpt.orcpt !== undefined) out.orcpt = att.rcpt.orcpt;
    if (att.req.envid !== undefined) out.envid = att.req.envid;
    if (att.req.ret !== undefined) out.ret = att.req.ret;
    return out;
  }

  private async defaultPrivs(): Promise<Privileges> {
    const name = this.config.get('default_privs').trim();
    const user = await this.lookupUser(name);
    if (!user) throw new Error(`default_privs: unknown user ${name}`);
    if (user.uid === 0) throw new Error(`default_privs: ${name} is root`);
    return { user: user.name, uid: user.uid, gid: user.gid };
  }

  private async privilegesOf(user: UserAttr): Promise<Privileges> {
    return user.uid !== 0 ? { user: user.name, uid: user.uid, gid: user.gid } : this.defaultPrivs();
  }

  private delimiterOf(): string {
    return this.config.get('recipient_delimiter');
  }

  /** user@domain, with @$myorigin added to a bare name. */
  private qualify(name: string): string {
    const n = name.trim().replace(/^<(.*)>$/, '$1');
    return n.includes('@') ? n : `${n}@${this.config.get('myorigin')}`;
  }

  /** Splits an address into local part, user and extension (recipient_delimiter, owner_request_special). */
  private splitRecipient(address: string): RecipientParts {
    const at = address.lastIndexOf('@');
    const local = (at < 0 ? address : address.slice(0, at)).toLowerCase();
    const domain = at < 0 ? '' : address.slice(at + 1).toLowerCase();
    const delims = this.delimiterOf();
    let user = local;
    let extension = '';
    let delimiter = '';
    const special = this.config.bool('owner_request_special') && (local.startsWith('owner-') || local.endsWith('-request'));
    if (!(special && delims.includes('-'))) {
      for (let i = 0; i < local.length; i++) {
        if (i > 0 && delims.includes(local[i])) {
          user = local.slice(0, i);
          extension = local.slice(i + 1);
          delimiter = local[i];
          break;
        }
      }
    }
    return { local, user, extension, domain, delimiter };
  }

  private attrs(address: string, parts: RecipientParts, user?: UserAttr): ExpandAttrs {
    return {
      user: parts.user,
      local: parts.local,
      extension: parts.extension,
      domain: parts.domain,
      recipient: address,
      mailbox: parts.local,
      recipient_delimiter: parts.extension ? parts.delimiter : '',
      home: user?.home ?? '',
      shell: user?.shell ?? '',
    };
  }
}

interface RecipientParts {
  local: string;
  user: string;
  extension: string;
  domain: string;
  delimiter: string;
}

function rank(state: DeliveryOutcome['state']): number {
  return state === 'deferred' ? 2 : state === 'bounced' ? 1 : 0;
}

/** user+ext@domain for an unmatched extension (propagate_unmatched_extensions = alias). */
function withExtension(address: string, delimiters: string, extension: string): string {
  const d = delimiters[0] ?? '+';
  const at = address.lastIndexOf('@');
  return at < 0 ? `${address}${d}${extension}` : `${address.slice(0, at)}${d}${extension}${address.slice(at)}`;
}

/** The Delivered-To: values in the message header (lower case), for the loop check. */
function deliveredToHeaders(content: Buffer | undefined): Set<string> {
  const out = new Set<string>();
  if (!content) return out;
  let end = content.indexOf('\n\n');
  if (end < 0) end = content.length;
  for (const line of content.toString('latin1', 0, end).split('\n')) {
    const m = /^delivered-to:\s*(.*?)\s*$/i.exec(line);
    if (m) out.add(m[1].replace(/^<(.*)>$/, '$1').toLowerCase());
  }
  return out;
}

/** LF -> CRLF, for content going back into the queue. */
function lfToCrlf(content: Buffer): Buffer {
  return Buffer.from(content.toString('latin1').replace(/\n/g, '\r\n'), 'latin1');
}
