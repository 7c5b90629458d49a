/**
 * milter-client: one connection to one milter for one SMTP session (or one
 * non-SMTP message), the MTA side of the Sendmail 8 protocol as Postfix's
 * milter8 speaks it.
 *
 *   connect(): opens the socket and negotiates (SMFIC_OPTNEG: version,
 *     the modifications offered, the steps the milter may skip or leave
 *     unanswered), within connect_timeout.
 *   event(cmd, data, macros, step): sends the stage's macros, then the
 *     event unless the milter asked not to receive it, then reads the
 *     answer within command_timeout (content_timeout for the content
 *     steps; SMFIR_PROGRESS starts the wait anew). At end of message the
 *     modification requests go to the MilterEditor as they arrive.
 *   abort(), quit(): end a message, end the session.
 *
 * The answer is a MilterVerdict, or undefined to go on. A milter that
 * cannot be reached, breaks the protocol or does not answer in time is
 * closed and answers, now and for the rest of the session, with its
 * default action (tempfail: "451 4.7.1 Service unavailable - try again
 * later"), as Postfix. Reject, tempfail or a reply code at CONNECT or HELO
 * holds for every later command of the session; accept at CONNECT/HELO
 * ends the milter's part in the session, after a message command only in
 * the message. Nothing throws: failures are logged once as warnings.
 */
import { connect as netConnect, type Socket } from 'node:net';
import type { Logger } from '../util/log.js';
import { encodePacket, MilterProtocolError, MTA_ACTIONS, NOSEND_MASK, PacketReader, PROTOCOL_MASKS, readStrings, SMFIC, SMFIP, SMFIR, uint32s, type MilterPacket } from './milter-protocol.js';
import type { MilterSpec } from '../config/milter-settings.js';

/** What a milter decided, when it did not just let the step go on. */
export type MilterVerdict =
  /** An SMTP reply: "550 5.7.1 Command rejected", "451 4.7.1 ...", or the milter's own (SMFIR_REPLYCODE). */
  | { action: 'reply'; reply: string }
  | { action: 'discard' }
  /** Quarantine: the message goes to the hold queue. */
  | { action: 'hold'; reason: string }
  /** SMFIR_SHUTDOWN: 421 and the session ends. */
  | { action: 'shutdown' };

/** The end-of-message modifications a milter may ask for, applied in the order they come. */
export interface MilterEditor {
  addHeader(name: string, value: string): void;
  /** index 0 is the top of the header (after the MTA's own hidden Received:). */
  insertHeader(index: number, name: string, value: string): void;
  /** The index-th header of that name (1 = first); an empty value deletes it. */
  changeHeader(index: number, name: string, value: string): void;
  addRecipient(address: string, args: string | undefined): void;
  deleteRecipient(address: string): void;
  changeSender(address: string, args: string | undefined): void;
  /** One chunk of a replacement body; the first call of a message starts the new body. */
  replaceBody(chunk: Buffer): void;
}

/** How an event is sent: the flag that skips it, the flag that says the milter will not answer, the time limit. */
export interface MilterStep {
  skip: number;
  noReply: number;
  /** 'content' steps (header, body, end of message) wait milter_content_timeout. */
  timeout: 'command' | 'content';
  /** The macro stage code sent with SMFIC_MACRO (the event's command byte). */
  macroStage?: number;
}

type State = 'closed' | 'ready' | 'accept-session' | 'accept-message' | 'reject-session' | 'error';

const REJECTED = '550 5.7.1 Command rejected';
const TEMPFAILED = '451 4.7.1 Service unavailable - try again later';

export class MilterClient {
  private socket: Socket | undefined;
  private readonly reader = new PacketReader();
  private readonly queue: MilterPacket[] = [];
  private waiter: { resolve: (p: MilterPacket) => void; reject: (e: Error) => void } | undefined;
  private broken: Error | undefined;
  private state: State = 'closed';
  /** The answer every later event gets (a failed milter, or a session-wide reject). */
  private standing: MilterVerdict | undefined;
  /** What the milter asked for at negotiation. */
  private events = 0;
  actions = 0;
  /** Events the milter's protocol version does not know. */
  private unknownEvents = 0;
  /** The protocol flags offered at negotiation (milter_protocol's). */
  private offered = 0;
  /** The milter's own macro lists per stage (SMFIM_* index), from its OPTNEG reply. */
  readonly macroOverrides = new Map<number, string[]>();
  /** SMFIR_SKIP: no more body chunks for this message. */
  private skipBody = false;

  constructor(
    readonly spec: MilterSpec,
    private readonly log: Logger,
  ) {}

  /** Opens and negotiates; on failure the milter answers with its default action from now on. */
  async connect(): Promise<void> {
    const spec = this.spec;
    const offered = PROTOCOL_MASKS[spec.version];
    try {
      await this.open();
      this.send(encodePacket(SMFIC.OPTNEG, uint32s(spec.version, MTA_ACTIONS, offered)));
      const reply = await this.read(spec.connectTimeoutMs, 'SMFIC_OPTNEG');
      if (reply.cmd !== SMFIC.OPTNEG || reply.data.length < 12) throw new MilterProtocolError(`unexpected reply "${String.fromCharCode(reply.cmd)}" in initial handshake`);
      const version = reply.data.readUInt32BE(0);
      const actions = reply.data.readUInt32BE(4);
      const events = reply.data.readUInt32BE(8);
      if (version > spec.version) throw new MilterProtocolError(`protocol version ${version} conflict with MTA protocol version ${spec.version}`);
      if ((actions & MTA_ACTIONS) !== actions) throw new MilterProtocolError(`request mask 0x${actions.toString(16)} conflict with MTA request mask 0x${MTA_ACTIONS.toString(16)}`);
      this.actions = actions;
      this.events = events;
      this.offered = offered;
      // A milter on an older protocol is never sent what its version lacks.
      const own = PROTOCOL_MASKS[version >= 6 ? 6 : version >= 4 ? 4 : version === 3 ? 3 : 2];
      this.unknownEvents = NOSEND_MASK & ~(offered & own);
      let at = 12;
      while (at + 4 < reply.data.length) {
        const stage = reply.data.readUInt32BE(at);
        const [names = ''] = readStrings(reply.data.subarray(at + 4, (reply.data.indexOf(0, at + 4) + 1) || reply.data.length));
        this.macroOverrides.set(stage, names.split(/[\s,]+/).filter(Boolean));
        const end = reply.data.indexOf(0, at + 4);
        at = end < 0 ? reply.data.length : end + 1;
      }
      this.state = 'ready';
      this.standing = undefined;
    } catch (err) {
      this.fail(`${(err as Error).message}`, true);
    }
  }

  /** True when the milter takes part in the message (it did not fail, accept or reject for the session). */
  get active(): boolean {
    return this.state === 'ready';
  }

  /** Whether the milter asked not to be sent this step. */
  skips(flag: number): boolean {
    return (this.events & flag) !== 0;
  }

  /** Whether the milter asked for an optional feature that was offered to it (SMFIP_RCPT_REJ). */
  wants(flag: number): boolean {
    return (this.events & this.offered & flag) !== 0;
  }

  /**
   * One event: the macros, then (unless skipped) the command, then the
   * answer. `editor` receives modifications (end of message only).
   */
  async event(cmd: number, data: Buffer, macros: Buffer | undefined, step: MilterStep, editor?: MilterEditor): Promise<MilterVerdict | undefined> {
    if (this.state !== 'ready') return this.standing;
    if ((step.skip & this.unknownEvents) !== 0) return undefined;
    if (macros) this.send(encodePacket(SMFIC.MACRO, Buffer.concat([Buffer.of(step.macroStage ?? cmd), macros])));
    if ((step.skip & this.events) !== 0) return undefined;
    if (cmd === SMFIC.BODY && this.skipBody) return undefined;
    this.send(encodePacket(cmd, data));
    if ((step.noReply & this.events) !== 0) return undefined;
    const ms = step.timeout === 'content' ? this.spec.contentTimeoutMs : this.spec.commandTimeoutMs;
    const sessionStage = cmd === SMFIC.CONNECT || cmd === SMFIC.HELO;
    // Quarantine is no decision of its own (Sendmail 8.13): the step goes on, and its end says hold.
    let hold: MilterVerdict | undefined;
    try {
      for (;;) {
        const p = await this.read(ms, NAMES[cmd] ?? 'event');
        switch (p.cmd) {
          case SMFIR.PROGRESS:
            continue;
          case SMFIR.CONTINUE:
            return hold;
          case SMFIR.SKIP:
            if (cmd === SMFIC.BODY) this.skipBody = true;
            return hold;
          case SMFIR.ACCEPT:
            if (sessionStage) this.close('accept-session');
            else this.state = 'accept-message';
            return hold;
          case SMFIR.DISCARD:
            if (sessionStage) {
              this.log.warning(`milter ${this.spec.name}: DISCARD action is not allowed for connect or helo`);
              return this.fail(undefined, false, true);
            }
            this.state = 'accept-message';
            return { action: 'discard' };
          case SMFIR.REJECT:
            return this.decided({ action: 'reply', reply: REJECTED }, sessionStage);
          case SMFIR.TEMPFAIL:
            return this.decided({ action: 'reply', reply: TEMPFAILED }, sessionStage);
          case SMFIR.SHUTDOWN:
            this.close('reject-session');
            this.standing = { action: 'shutdown' };
            return this.standing;
          case SMFIR.REPLYCODE: {
            const reply = replyCode(p.data);
            if (!reply) {
              this.log.warning(`milter ${this.spec.name}: malformed reply: ${p.data.toString('utf8').replace(/\0.*$/s, '')}`);
              return this.fail(undefined, false, true);
            }
            return this.decided({ action: 'reply', reply }, sessionStage);
          }
          case SMFIR.QUARANTINE:
            hold = { action: 'hold', reason: (readStrings(p.data)[0] ?? '').slice(0, 100) };
            continue;
          default:
            if (cmd === SMFIC.BODYEOB && editor && this.edit(p, editor)) continue;
            throw new MilterProtocolError(`unexpected filter response ${String.fromCharCode(p.cmd)} after event ${NAMES[cmd] ?? cmd}`);
        }
      }
    } catch (err) {
      return this.fail((err as Error).message, false);
    }
  }

  /** After a message (or an abandoned transaction): the milter is ready for the next one. */
  endMessage(): void {
    this.skipBody = false;
    if (this.state === 'accept-message') this.state = 'ready';
  }

  /** SMFIC_ABORT: the transaction ended without a message; no answer is expected. */
  abort(): void {
    this.endMessage();
    if (this.state === 'ready') this.send(encodePacket(SMFIC.ABORT));
  }

  /** SMFIC_QUIT and the socket closed. */
  quit(): void {
    const s = this.socket;
    if (s && !this.broken) {
      // end(), not destroy(): QUIT must leave before the socket closes.
      s.end(encodePacket(SMFIC.QUIT));
      this.socket = undefined;
    }
    this.close('closed');
  }

  /** Applies one modification packet; false when it is not one. */
  private edit(p: MilterPacket, editor: MilterEditor): boolean {
    const d = p.data;
    switch (p.cmd) {
      case SMFIR.ADDHEADER: {
        const [name = '', value = ''] = readStrings(d);
        editor.addHeader(name, value);
        return true;
      }
      case SMFIR.INSHEADER:
      case SMFIR.CHGHEADER: {
        if (d.length < 4) throw new MilterProtocolError('short header request');
        const index = d.readUInt32BE(0);
        const [name = '', value = ''] = readStrings(d, 4);
        if (!name) throw new MilterProtocolError('null change header name');
        if (p.cmd === SMFIR.INSHEADER) editor.insertHeader(index, name, value);
        // Sendmail counts from 1; 0 means the first as well.
        else editor.changeHeader(Math.max(1, index), name, value);
        return true;
      }
      case SMFIR.ADDRCPT:
      case SMFIR.ADDRCPT_PAR: {
        const [address = '', args] = readStrings(d);
        editor.addRecipient(address, p.cmd === SMFIR.ADDRCPT_PAR ? args : undefined);
        return true;
      }
      case SMFIR.DELRCPT:
        editor.deleteRecipient(readStrings(d)[0] ?? '');
        return true;
      case SMFIR.CHGFROM: {
        const [address = '', args] = readStrings(d);
        editor.changeSender(address, args);
        return true;
      }
      case SMFIR.REPLBODY:
        editor.replaceBody(d);
        return true;
      default:
        return false;
    }
  }

  /** A reject, tempfail or reply code; at CONNECT/HELO it holds for the whole session. */
  private decided(v: MilterVerdict, sessionStage: boolean): MilterVerdict {
    if (sessionStage) {
      this.close('reject-session');
      this.standing = v;
    }
    return v;
  }

  /**
   * The milter failed: closed, and its default action stands for the rest
   * of the session. A configuration fault (a bad reply) answers 451 4.3.5
   * unless the default action is accept, as Postfix.
   */
  private fail(reason: string | undefined, connecting: boolean, configFault = false): MilterVerdict | undefined {
    if (reason !== undefined) this.log.warning(connecting ? `connect to Milter service ${this.spec.name}: ${reason}` : `milter ${this.spec.name}: ${reason}`);
    this.close('error');
    const a = this.spec.defaultAction;
    this.standing =
      a === 'accept'
        ? undefined
        : a === 'quarantine'
          ? { action: 'hold', reason: 'default_action' }
          : configFault
            ? { action: 'reply', reply: '451 4.3.5 Server configuration problem - try again later' }
            : a === 'reject'
              ? { action: 'reply', reply: '550 5.5.0 Service unavailable' }
              : { action: 'reply', reply: TEMPFAILED };
    return this.standing;
  }

  private close(state: State): void {
    this.state = state;
    const s = this.socket;
    this.socket = undefined;
    if (s) s.destroy();
    this.broken ??= new Error('connection closed');
    this.wake();
  }

  private open(): Promise<void> {
    const spec = this.spec;
    return new Promise((resolve, reject) => {
      const e = spec.endpoint;
      const socket = e.kind === 'unix' ? netConnect({ path: e.path }) : netConnect({ host: e.host, port: e.port });
      this.socket = socket;
      socket.setNoDelay?.(true);
      const timer = setTimeout(() => {
        reject(new Error('Connection timed out'));
        socket.destroy();
      }, spec.connectTimeoutMs);
      socket.once('connect', () => {
        clearTimeout(timer);
        resolve();
      });
      socket.on('data', (chunk: Buffer) => {
        try {
          for (const p of this.reader.push(chunk)) this.queue.push(p);
        } catch (err) {
          this.broken = err as Error;
          socket.destroy();
        }
        this.wake();
      });
      socket.on('error', (err) => {
        clearTimeout(timer);
        this.broken ??= err;
        reject(err);
        this.wake();
      });
      socket.on('close', () => {
        clearTimeout(timer);
        this.broken ??= new Error('connection closed by milter');
        reject(this.broken);
        this.wake();
      });
    });
  }

  private send(packet: Buffer): void {
    if (this.socket && !this.broken) this.socket.write(packet);
  }

  private wake(): void {
    const w = this.waiter;
    if (!w) return;
    const p = this.queue.shift();
    if (p) {
      this.waiter = undefined;
      w.resolve(p);
    } else if (this.broken) {
      this.waiter = undefined;
      w.reject(this.broken);
    }
  }

  /** The next packet within `ms`; rejects on timeout, close or a protocol error. */
  private read(ms: number, what: string): Promise<MilterPacket> {
    const ready = this.queue.shift();
    if (ready) return Promise.resolve(ready);
    if (this.broken) return Promise.reject(new Error(`can't read ${what} reply packet header: ${this.broken.message}`));
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiter = undefined;
        reject(new Error(`can't read ${what} reply packet header: Connection timed out`));
      }, ms);
      this.waiter = {
        resolve: (p) => {
          clearTimeout(timer);
          resolve(p);
        },
        reject: (e) => {
          clearTimeout(timer);
          reject(e instanceof MilterProtocolError ? e : new Error(`can't read ${what} reply packet header: ${e.message}`));
        },
      };
    });
  }
}

/** SMFIR_REPLYCODE's text, checked as Postfix does (4xx or 5xx, enhanced code of the same class), "%%" undone; undefined when malformed. */
export function replyCode(data: Buffer): string | undefined {
  const text = readStrings(data)[0] ?? '';
  if (!/^[45]\d\d[ -]/.test(text) || text[4] !== text[0]) return undefined;
  return text.replace(/%(%?)/g, '$1');
}

const NAMES: Record<number, string> = {
  [SMFIC.CONNECT]: 'SMFIC_CONNECT',
  [SMFIC.HELO]: 'SMFIC_HELO',
  [SMFIC.MAIL]: 'SMFIC_MAIL',
  [SMFIC.RCPT]: 'SMFIC_RCPT',
  [SMFIC.DATA]: 'SMFIC_DATA',
  [SMFIC.HEADER]: 'SMFIC_HEADER',
  [SMFIC.EOH]: 'SMFIC_EOH',
  [SMFIC.BODY]: 'SMFIC_BODY',
  [SMFIC.BODYEOB]: 'SMFIC_BODYEOB',
  [SMFIC.UNKNOWN]: 'SMFIC_UNKNOWN',
};

/** The steps of the protocol: what skips each, what leaves it unanswered. */
export const STEPS = {
  connect: { skip: SMFIP.NOCONNECT, noReply: SMFIP.NR_CONN, timeout: 'command' },
  helo: { skip: SMFIP.NOHELO, noReply: SMFIP.NR_HELO, timeout: 'command' },
  mail: { skip: SMFIP.NOMAIL, noReply: SMFIP.NR_MAIL, timeout: 'command' },
  rcpt: { skip: SMFIP.NORCPT, noReply: SMFIP.NR_RCPT, timeout: 'command' },
  data: { skip: SMFIP.NODATA, noReply: SMFIP.NR_DATA, timeout: 'command' },
  unknown: { skip: SMFIP.NOUNKNOWN, noReply: SMFIP.NR_UNKN, timeout: 'command' },
  header: { skip: SMFIP.NOHDRS, noReply: SMFIP.NR_HDR, timeout: 'content' },
  eoh: { skip: SMFIP.NOEOH, noReply: SMFIP.NR_EOH, timeout: 'content' },
  body: { skip: SMFIP.NOBODY, noReply: SMFIP.NR_BODY, timeout: 'content' },
  eom: { skip: 0, noReply: 0, timeout: 'content' },
} as const satisfies Record<string, MilterStep>;

/** A header value as the milter wants it: without the space after the colon unless it asked for it (SMFIP_HDR_LEADSPC). */
export function headerValueFor(client: MilterClient, value: string): string {
  return client.skips(SMFIP.HDR_LEADSPC) || !value.startsWith(' ') ? value : value.slice(1);
}
