/**
 * milter-session: the milters of one SMTP session (smtpd_milters) or of one
 * non-SMTP message (non_smtpd_milters), asked in their configured order:
 * the first one that does not just go on decides, and the later ones are
 * not asked (Postfix's order). smtpd drives connect(), helo(), mail(),
 * rcpt() and data(); cleanup drives message() with the content and an
 * editor for the modifications; abort() ends a transaction without a
 * message; close() ends the session.
 *
 * Macros are looked up per stage through the `macros` function (smtpd and
 * cleanup know the values); a milter's own list from its negotiation
 * replaces the configured one, as Sendmail 8.14. smtpd also drives
 * rejectedRcpt() (a refused recipient, for milters that negotiated
 * SMFIP_RCPT_REJ) and unknown() (SMFIC_UNKNOWN). Nothing throws: every
 * failure becomes the failing milter's default action (milter-client).
 */
import type { Logger } from '../util/log.js';
import { headerValueFor, MilterClient, STEPS, type MilterEditor, type MilterVerdict } from './milter-client.js';
import { CHUNK_SIZE, cstrings, SMFIC, SMFIM, SMFIP } from './milter-protocol.js';
import type { MilterMacroLists, MilterSettings } from '../config/milter-settings.js';

export type { MilterEditor, MilterVerdict } from './milter-client.js';

/** A macro's value now, or undefined when it has none. */
export type MacroLookup = (name: string) => string | undefined;

/** The content as the milters see it: header fields (name, value after the colon, folded lines joined by LF) and the body (CRLF lines). */
export interface MilterContent {
  headers: Array<{ name: string; value: string }>;
  body: Buffer;
}

type Stage = keyof MilterMacroLists;
const STAGE_INDEX: Partial<Record<Stage, number>> = {
  connect: SMFIM.CONNECT,
  helo: SMFIM.HELO,
  mail: SMFIM.ENVFROM,
  rcpt: SMFIM.ENVRCPT,
  data: SMFIM.DATA,
  eoh: SMFIM.EOH,
  eod: SMFIM.EOM,
};

export class MilterSession {
  private readonly clients: MilterClient[];
  private connected = false;
  /** A MAIL event went out and no message or abort has ended it yet. */
  private inTransaction = false;

  constructor(
    private readonly settings: MilterSettings,
    private readonly macros: MacroLookup,
    log: Logger,
  ) {
    this.clients = settings.milters.map((spec) => new MilterClient(spec, log));
  }

  /** Opens every milter (in parallel, each within its connect_timeout) and sends CONNECT. */
  async connect(client: { name: string; addr: string; port: number }): Promise<MilterVerdict | undefined> {
    this.connected = true;
    await Promise.all(this.clients.map((c) => c.connect()));
    const v6 = client.addr.includes(':');
    const family = client.addr === '' ? 'U' : v6 ? '6' : '4';
    const port = Buffer.alloc(2);
    port.writeUInt16BE(client.port & 0xffff, 0);
    const data = family === 'U' ? Buffer.concat([cstrings(client.name), Buffer.from('U')]) : Buffer.concat([cstrings(client.name), Buffer.from(family), port, cstrings(client.addr)]);
    return this.each('connect', SMFIC.CONNECT, data, STEPS.connect);
  }

  helo(name: string): Promise<MilterVerdict | undefined> {
    return this.each('helo', SMFIC.HELO, cstrings(name), STEPS.helo);
  }

  /** MAIL FROM: the sender in angle brackets, then the ESMTP parameters ("SIZE=123"). */
  mail(sender: string, args: string[]): Promise<MilterVerdict | undefined> {
    if (this.inTransaction) this.abort();
    this.inTransaction = true;
    return this.each('mail', SMFIC.MAIL, cstrings(`<${sender}>`, ...args), STEPS.mail);
  }

  rcpt(recipient: string, args: string[]): Promise<MilterVerdict | undefined> {
    return this.each('rcpt', SMFIC.RCPT, cstrings(`<${recipient}>`, ...args), STEPS.rcpt);
  }

  /**
   * A recipient smtpd refused, shown to the milters that asked for those
   * (SMFIP_RCPT_REJ) as Postfix does; the macros then describe the refusal.
   * The answer does not change the refusal: the caller only logs it.
   */
  rejectedRcpt(recipient: string, args: string[]): Promise<MilterVerdict | undefined> {
    return this.each('rcpt', SMFIC.RCPT, cstrings(`<${recipient}>`, ...args), STEPS.rcpt, (c) => c.wants(SMFIP.RCPT_REJ));
  }

  /** An SMTP command smtpd does not know (SMFIC_UNKNOWN), with milter_unknown_command_macros; a reply verdict is the command's reply. */
  unknown(command: string): Promise<MilterVerdict | undefined> {
    return this.each('unknown', SMFIC.UNKNOWN, cstrings(command), STEPS.unknown);
  }

  /** True when some milter asked to see rejected recipients. */
  get wantsRejected(): boolean {
    return this.clients.some((c) => c.active && c.wants(SMFIP.RCPT_REJ));
  }

  data(): Promise<MilterVerdict | undefined> {
    return this.each('data', SMFIC.DATA, Buffer.alloc(0), STEPS.data);
  }

  /**
   * The content steps, milter after milter: headers, end of headers, body
   * chunks, end of message. Each milter sees the content as the earlier
   * ones left it: `content()` is asked again after each milter's edits.
   */
  async message(content: () => MilterContent, editor: MilterEditor): Promise<MilterVerdict | undefined> {
    try {
      for (const c of this.clients) {
        if (!c.active) {
          const standing = await c.event(SMFIC.BODYEOB, Buffer.alloc(0), undefined, STEPS.eom);
          if (standing) return standing;
          continue;
        }
        const v = await this.messageTo(c, content(), editor);
        if (v) return v;
      }
      return undefined;
    } finally {
      this.inTransaction = false;
      for (const c of this.clients) c.endMessage();
    }
  }

  private async messageTo(c: MilterClient, m: MilterContent, editor: MilterEditor): Promise<MilterVerdict | undefined> {
    for (const h of m.headers) {
      const v = await c.event(SMFIC.HEADER, cstrings(h.name, headerValueFor(c, h.value)), undefined, STEPS.header);
      if (v || !c.active) return v;
    }
    let v = await c.event(SMFIC.EOH, Buffer.alloc(0), this.macroPacket(c, 'eoh'), { ...STEPS.eoh, macroStage: SMFIC.EOH });
    if (v || !c.active) return v;
    for (let at = 0; at < m.body.length; at += CHUNK_SIZE) {
      v = await c.event(SMFIC.BODY, m.body.subarray(at, at + CHUNK_SIZE), undefined, STEPS.body);
      if (v || !c.active) return v;
    }
    return c.event(SMFIC.BODYEOB, Buffer.alloc(0), this.macroPacket(c, 'eod'), STEPS.eom, editor);
  }

  /** SMFIC_ABORT to every milter: the transaction ended without a message. */
  abort(): void {
    this.inTransaction = false;
    for (const c of this.clients) c.abort();
  }

  /** The end of the session: SMFIC_QUIT and every socket closed. */
  close(): void {
    if (!this.connected) return;
    this.connected = false;
    for (const c of this.clients) c.quit();
  }

  /** True when any milter is configured. */
  get size(): number {
    return this.clients.length;
  }

  private async each(stage: Stage, cmd: number, data: Buffer, step: (typeof STEPS)[keyof typeof STEPS], only?: (c: MilterClient) => boolean): Promise<MilterVerdict | undefined> {
    for (const c of this.clients) {
      if (only && !only(c)) continue;
      const v = await c.event(cmd, data, this.macroPacket(c, stage), step);
      if (v) return v;
    }
    return undefined;
  }

  /** SMFIC_MACRO's name/value pairs for a stage, undefined when there are none to send. */
  private macroPacket(c: MilterClient, stage: Stage): Buffer | undefined {
    const index = STAGE_INDEX[stage];
    const names = (index !== undefined ? c.macroOverrides.get(index) : undefined) ?? this.settings.macros[stage];
    const pairs: string[] = [];
    for (const raw of names) {
      // Looked up as {name} whatever the list says ("j" and "{j}" are one macro); sent as the list names it.
      const value = this.macros(raw.startsWith('{') ? raw : `{${raw}}`);
      if (value !== undefined) pairs.push(raw, value);
    }
    return pairs.length > 0 ? cstrings(...pairs) : undefined;
  }
}
