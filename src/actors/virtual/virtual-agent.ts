/**
 * virtual-agent: Postfix's virtual(8) as a library: each recipient's mailbox
 * comes from virtual_mailbox_maps (user+ext@domain, user@domain, then the @domain catch-all)
 * relative to virtual_mailbox_base; a path ending in "/" is a Maildir, any
 * other an mbox file. Unknown user: bounce 5.1.1. A Maildir message, or an
 * mbox file after delivery, larger than virtual_mailbox_limit (0: no
 * limit) bounces 5.2.2, as Postfix's file size limit does. File system
 * errors defer (ENOSPC/EDQUOT 4.3.0, others 4.2.0); a broken table defers
 * 4.3.5. With soft_bounce every bounce is a deferral.
 * Owner: virtual_uid_maps and virtual_gid_maps (same lookup order; static:N
 * is the usual form) give the files' owner, as Postfix's virtual(8) writes
 * as that user; a recipient they do not list, a uid below
 * virtual_minimum_uid or a gid of 0 defers 4.3.0 "mail system
 * configuration error" with a warning, as Postfix. With both maps empty
 * (Postfix would refuse to deliver) the files belong to the user Postrider
 * runs as, which needs no root. X-Original-To (enable_original_recipient)
 * carries the recipient as received, before virtual alias expansion and
 * canonical mapping (Postfix's orig_rcpt), else the recipient. A
 * verify-only request (sendmail -bv) goes as far as the mailbox lookup and
 * its owner, and writes nothing: "delivers to maildir" (or mailbox).
 * deliver() never rejects.
 */
import { stat } from 'node:fs/promises';
import { isAbsolute, relative, resolve } from 'node:path';
import { withParameterDefaults } from '../../config/parameter-defaults.js';
import type { MainConfig } from '../../config/main-config.js';
import { openTableList, type TableList } from '../../config/lookup-table.js';
import type { DeliveryOutcome, DeliveryRequest, DeliveryResult } from '../../protocol/protocol.js';
import type { BodyLocation } from '../../store/store-types.js';
import { logOutcomes } from '../../global/delivery-log.js';
import { mailAddrFind } from '../../global/mail-addr-find.js';
import type { Logger } from '../../util/log.js';
import { crlfToLf } from '../../util/line-ends.js';
import { deliveredCopy, deliverMaildir, deliverMbox, type MailboxOwner } from './virtual-maildir.js';

/** What the virtual agent is built with (as every delivery agent library). */
export interface VirtualAgentOptions {
  config: MainConfig;
  log: Logger;
  readContent: (location: BodyLocation) => Promise<Buffer>;
}

/** The virtual delivery agent: Maildir / mbox delivery under virtual_mailbox_base. */
export class VirtualAgent {
  private maps: TableList | undefined;
  private owners: { uid: TableList; gid: TableList } | null | undefined;

  constructor(private readonly opts: VirtualAgentOptions) {}

  /** The uid and gid tables, or null when neither is set (files then belong to this process's user). */
  private openOwners(): { uid: TableList; gid: TableList } | null {
    const c = withParameterDefaults(this.opts.config, ['virtual_uid_maps', 'virtual_gid_maps']);
    const uid = c.get('virtual_uid_maps').trim();
    const gid = c.get('virtual_gid_maps').trim();
    if (!uid && !gid) return null;
    return { uid: openTableList(uid, c.dir), gid: openTableList(gid, c.dir) };
  }

  /** The owner of a recipient's files, or the warning why there is none. Throws when a table fails. */
  private ownerOf(tables: { uid: TableList; gid: TableList }, address: string, delimiter: string, minimumUid: number): MailboxOwner | string {
    const uidText = lookupMailbox(tables.uid, address, delimiter);
    if (uidText === undefined) return 'uid not found in virtual_uid_maps';
    const gidText = lookupMailbox(tables.gid, address, delimiter);
    if (gidText === undefined) return 'gid not found in virtual_gid_maps';
    const uid = Number(uidText.trim());
    const gid = Number(gidText.trim());
    if (!/^\d+$/.test(uidText.trim()) || uid < minimumUid) return `bad uid ${uidText.trim()} in virtual_uid_maps`;
    if (!/^\d+$/.test(gidText.trim()) || gid <= 0) return `bad gid ${gidText.trim()} in virtual_gid_maps`;
    return { uid, gid };
  }

  /** Delivers every recipient of `req` into its mailbox. */
  async deliver(req: DeliveryRequest): Promise<DeliveryResult> {
    const start = Date.now();
    const outcomes: DeliveryOutcome[] = [];
    const out = (index: number, state: DeliveryOutcome['state'], dsn: string, reason: string) =>
      outcomes.push({ index, state, dsn, reason, relay: 'virtual' });
    let content: Buffer | undefined;
    let failure: { dsn: string; reason: string } | undefined;
    try {
      this.maps ??= openTableList(this.opts.config.get('virtual_mailbox_maps'), this.opts.config.dir);
      this.owners ??= this.openOwners();
    } catch (err) {
      failure = { dsn: '4.3.5', reason: `mail system configuration error: ${(err as Error).message}` };
    }
    if (!failure) {
      try {
        content = crlfToLf(await this.opts.readContent(req.location));
      } catch (err) {
        failure = { dsn: '4.3.0', reason: `error reading queue file: ${(err as Error)?.message ?? err}` };
      }
    }
    const params = withParameterDefaults(this.opts.config, ['virtual_mailbox_limit', 'virtual_minimum_uid', 'enable_original_recipient']);
    const limit = params.int('virtual_mailbox_limit');
    const minimumUid = params.int('virtual_minimum_uid');
    const originalTo = params.bool('enable_original_recipient');
    const base = this.opts.config.path('virtual_mailbox_base');
    const delimiter = this.opts.config.get('recipient_delimiter');
    for (const r of req.recipients) {
      if (failure) {
        out(r.index, 'deferred', failure.dsn, failure.reason);
        continue;
      }
      let mailbox: string | undefined;
      try {
        mailbox = lookupMailbox(this.maps!, r.address, delimiter);
      } catch (err) {
        out(r.index, 'deferred', '4.3.5', `mail system configuration error: ${(err as Error).message}`);
        continue;
      }
      if (mailbox === undefined) {
        out(r.index, 'bounced', '5.1.1', `unknown user: "${r.address.toLowerCase()}"`);
        continue;
      }
      const isMaildir = mailbox.trim().endsWith('/');
      const path = resolve(base || '/', mailbox.trim());
      const rel = relative(base || '/', path);
      if (!base || rel.startsWith('..') || isAbsolute(rel)) {
        out(r.index, 'deferred', '4.3.5', `mail system configuration error: mailbox ${mailbox} is outside virtual_mailbox_base`);
        continue;
      }
      let owner: MailboxOwner | undefined;
      if (this.owners) {
        const found = this.ownerOf(this.owners, r.address, delimiter, minimumUid);
        if (typeof found === 'string') {
          this.opts.log.warning(`recipient ${r.address}: ${found}`);
          out(r.index, 'deferred', '4.3.0', 'mail system configuration error');
          continue;
        }
        owner = found;
      }
      if (req.verify) {
        // sendmail -bv: the mailbox is known and its path usable; nothing is written.
        out(r.index, 'delivered', '2.0.0', `delivers to ${isMaildir ? 'maildir' : 'mailbox'}`);
        continue;
      }
      const data = deliveredCopy(req.sender, r.address, content!, originalTo ? originalRecipient(r) : undefined);
      if (limit > 0 && data.length + (isMaildir ? 0 : await fileSize(path)) > limit) {
        out(r.index, 'bounced', '5.2.2', `${isMaildir ? 'maildir' : 'mailbox'} delivery failed: error writing message: File too large`);
        continue;
      }
      try {
        if (isMaildir) {
          await deliverMaildir(path, data, owner);
          out(r.index, 'delivered', '2.0.0', 'delivered to maildir');
        } else {
          await deliverMbox(path, req.sender, data, new Date(), owner);
          out(r.index, 'delivered', '2.0.0', 'delivered to mailbox');
        }
      } catch (err) {
        const code = (err as { code?: string }).code;
        const full = code === 'ENOSPC' || code === 'EDQUOT';
        const kind = isMaildir ? 'maildir' : 'mailbox';
        out(r.index, 'deferred', full ? '4.3.0' : '4.2.0', `${kind} delivery failed: ${(err as Error).message}`);
      }
    }
    const end = Date.now();
    const reported = logOutcomes(this.opts.log, req, outcomes, { connectStart: start, transmitStart: start, end }, this.opts.config.bool('soft_bounce'));
    return { outcomes: reported, connectSeconds: 0, transmitSeconds: (end - start) / 1000 };
  }
}

/** The address X-Original-To names: the recipient as received, else the recipient. */
function originalRecipient(r: { address: string; origRcpt?: string }): string {
  return r.origRcpt ?? r.address;
}

/** virtual(8)'s lookup order (global/mail-addr-find): user+ext@domain, user@domain, then @domain. */
export function lookupMailbox(table: TableList, address: string, delimiter = ''): string | undefined {
  return mailAddrFind((key, partial) => (partial ? table.getPartial(key) : table.get(key)), address.trim(), { delimiters: delimiter })?.value;
}

/** The size of an existing file; 0 when there is none yet. */
async function fileSize(path: string): Promise<number> {
  try {
    return (await stat(path)).size;
  } catch {
    return 0;
  }
}
