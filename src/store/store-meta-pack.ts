/**
 * store-meta-pack: writes a new message's meta record (the map that
 * newMessageMeta builds: every recipient ready, no attempts) straight from
 * the NewMessage as msgpack into one reused buffer, with the same keys in
 * the same order, so the append path builds no meta object, no recipient
 * objects and no key arrays per message (at tens of thousands of appends a
 * second, that garbage was a large part of the collector's work). Integers
 * beyond 32 bits are written as float64, as msgpackr writes them, so the
 * record reads back identically. Never throws: a field of a type it does not
 * take makes pack() return -1, and the caller falls back to msgpackr.
 */
import type { NewMessage } from './store-types.js';

const MIN_BUFFER = 4096;

/** Packs message metas into `buf`; one per thread, reused for every message. */
export class MessageMetaPacker {
  /** The last meta packed, from 0 to the length pack() returned. */
  buf = Buffer.allocUnsafeSlow(MIN_BUFFER);
  private at = 0;

  /** Packs `m`'s meta into buf; its byte length, or -1 when a field's type is not one the store writes. */
  pack(m: NewMessage): number {
    if (!fastShape(m)) return -1;
    // Worst case: three bytes of UTF-8 per UTF-16 unit, plus headers and numbers.
    const need = 512 + 3 * textLength(m);
    if (this.buf.length < need) this.buf = Buffer.allocUnsafeSlow(need * 2);
    this.at = 0;
    const c = m.client;
    let keys = 7;
    if (m.envid !== undefined) keys++;
    if (m.ret !== undefined) keys++;
    if (m.smtputf8 !== undefined) keys++;
    if (m.bodyType !== undefined) keys++;
    if (m.requiretls !== undefined) keys++;
    if (m.tlsRequiredNo !== undefined) keys++;
    this.byte(0x80 | keys);
    this.key(K_QUEUE_ID);
    this.str(m.queueId);
    this.key(K_ARRIVAL);
    this.num(m.arrivalTime);
    this.key(K_SENDER);
    this.str(m.sender);
    this.key(K_RECIPIENTS);
    this.arrayHeader(m.recipients.length);
    for (const r of m.recipients) {
      this.byte(0x80 | (3 + (r.orcpt !== undefined ? 1 : 0) + (r.notify !== undefined ? 1 : 0) + (r.origRcpt !== undefined ? 1 : 0)));
      this.key(K_ADDRESS);
      this.str(r.address);
      this.key(K_STATE);
      this.key(V_READY);
      this.key(K_ATTEMPTS);
      this.byte(0);
      this.strField(K_ORCPT, r.orcpt);
      if (r.notify !== undefined) {
        this.key(K_NOTIFY);
        this.arrayHeader(r.notify.length);
        for (const n of r.notify) this.str(n);
      }
      this.strField(K_ORIG_RCPT, r.origRcpt);
    }
    this.key(K_CLIENT);
    this.byte(0x80 | (3 + (c.port !== undefined ? 1 : 0) + (c.helo !== undefined ? 1 : 0) + (c.saslUser !== undefined ? 1 : 0)));
    this.key(K_NAME);
    this.str(c.name);
    this.key(K_ADDR);
    this.str(c.addr);
    this.key(K_PROTOCOL);
    this.str(c.protocol);
    if (c.port !== undefined) {
      this.key(K_PORT);
      this.num(c.port);
    }
    this.strField(K_HELO, c.helo);
    this.strField(K_SASL_USER, c.saslUser);
    this.key(K_HOLD);
    this.byte(m.hold === true ? 0xc3 : 0xc2);
    this.key(K_HEADER_LENGTH);
    this.num(m.headerLength);
    this.strField(K_ENVID, m.envid);
    this.strField(K_RET, m.ret);
    if (m.smtputf8 !== undefined) {
      this.key(K_SMTPUTF8);
      this.byte(m.smtputf8 ? 0xc3 : 0xc2);
    }
    this.strField(K_BODY_TYPE, m.bodyType);
    if (m.requiretls !== undefined) {
      this.key(K_REQUIRETLS);
      this.byte(m.requiretls ? 0xc3 : 0xc2);
    }
    if (m.tlsRequiredNo !== undefined) {
      this.key(K_TLS_REQUIRED_NO);
      this.byte(m.tlsRequiredNo ? 0xc3 : 0xc2);
    }
    return this.at;
  }

  /** A key and its string value, when there is a value. */
  private strField(k: Uint8Array, v: string | undefined): void {
    if (v === undefined) return;
    this.key(k);
    this.str(v);
  }

  private byte(b: number): void {
    this.buf[this.at++] = b;
  }

  /** A string known in advance: its msgpack bytes, header included. */
  private key(k: Uint8Array): void {
    const b = this.buf;
    let at = this.at;
    for (let i = 0; i < k.length; i++) b[at++] = k[i];
    this.at = at;
  }

  private arrayHeader(n: number): void {
    if (n < 16) this.byte(0x90 | n);
    else if (n < 0x10000) {
      this.byte(0xdc);
      this.buf.writeUInt16BE(n, this.at);
      this.at += 2;
    } else {
      this.byte(0xdd);
      this.buf.writeUInt32BE(n, this.at);
      this.at += 4;
    }
  }

  private str(s: string): void {
    const b = this.buf;
    const n = s.length;
    let ascii = true;
    for (let i = 0; i < n; i++) {
      if (s.charCodeAt(i) > 0x7f) {
        ascii = false;
        break;
      }
    }
    const bytes = ascii ? n : Buffer.byteLength(s, 'utf8');
    if (bytes < 32) this.byte(0xa0 | bytes);
    else if (bytes < 0x100) {
      this.byte(0xd9);
      this.byte(bytes);
    } else if (bytes < 0x10000) {
      this.byte(0xda);
      b.writeUInt16BE(bytes, this.at);
      this.at += 2;
    } else {
      this.byte(0xdb);
      b.writeUInt32BE(bytes, this.at);
      this.at += 4;
    }
    if (ascii) {
      let at = this.at;
      for (let i = 0; i < n; i++) b[at++] = s.charCodeAt(i);
      this.at = at;
    } else {
      this.at += b.write(s, this.at, 'utf8');
    }
  }

  /** A number as msgpackr writes it: the smallest integer form up to 32 bits, else float64. */
  private num(v: number): void {
    const b = this.buf;
    if (Number.isInteger(v) && v >= -0x8000_0000 && v <= 0xffff_ffff) {
      if (v >= 0) {
        if (v < 0x80) this.byte(v);
        else if (v < 0x100) {
          this.byte(0xcc);
          this.byte(v);
        } else if (v < 0x10000) {
          this.byte(0xcd);
          b.writeUInt16BE(v, this.at);
          this.at += 2;
        } else {
          this.byte(0xce);
          b.writeUInt32BE(v, this.at);
          this.at += 4;
        }
      } else if (v >= -0x20) this.byte(v & 0xff);
      else if (v >= -0x80) {
        this.byte(0xd0);
        b.writeInt8(v, this.at++);
      } else if (v >= -0x8000) {
        this.byte(0xd1);
        b.writeInt16BE(v, this.at);
        this.at += 2;
      } else {
        this.byte(0xd2);
        b.writeInt32BE(v, this.at);
        this.at += 4;
      }
      return;
    }
    this.byte(0xcb);
    b.writeDoubleBE(v, this.at);
    this.at += 8;
  }
}

/** A key or constant string, packed once. */
function packed(s: string): Uint8Array {
  return Uint8Array.from([0xa0 | s.length, ...Array.from(s, (c) => c.charCodeAt(0))]);
}

const K_QUEUE_ID = packed('queueId');
const K_ARRIVAL = packed('arrivalTime');
const K_SENDER = packed('sender');
const K_RECIPIENTS = packed('recipients');
const K_ADDRESS = packed('address');
const K_STATE = packed('state');
const V_READY = packed('ready');
const K_ATTEMPTS = packed('attempts');
const K_ORCPT = packed('orcpt');
const K_NOTIFY = packed('notify');
const K_ORIG_RCPT = packed('origRcpt');
const K_CLIENT = packed('client');
const K_NAME = packed('name');
const K_ADDR = packed('addr');
const K_PROTOCOL = packed('protocol');
const K_PORT = packed('port');
const K_HELO = packed('helo');
const K_SASL_USER = packed('saslUser');
const K_HOLD = packed('hold');
const K_HEADER_LENGTH = packed('headerLength');
const K_ENVID = packed('envid');
const K_RET = packed('ret');
const K_SMTPUTF8 = packed('smtputf8');
const K_BODY_TYPE = packed('bodyType');
const K_REQUIRETLS = packed('requiretls');
const K_TLS_REQUIRED_NO = packed('tlsRequiredNo');

const isStr = (v: unknown): boolean => typeof v === 'string';
const optStr = (v: unknown): boolean => v === undefined || typeof v === 'string';

/** True when every field has the type the fast path writes (input from other threads is not trusted to). */
function fastShape(m: NewMessage): boolean {
  if (!isStr(m.queueId) || typeof m.arrivalTime !== 'number' || !isStr(m.sender) || typeof m.headerLength !== 'number') return false;
  if (!Array.isArray(m.recipients) || m.recipients.length > 0xffff) return false;
  for (const r of m.recipients) {
    if (r === null || typeof r !== 'object' || !isStr(r.address) || !optStr(r.orcpt) || !optStr(r.origRcpt)) return false;
    if (r.notify !== undefined) {
      if (!Array.isArray(r.notify) || r.notify.length > 15) return false;
      for (const n of r.notify) if (!isStr(n)) return false;
    }
  }
  const c = m.client as NewMessage['client'] | null;
  if (c === null || typeof c !== 'object' || !isStr(c.name) || !isStr(c.addr) || !isStr(c.protocol)) return false;
  if ((c.port !== undefined && typeof c.port !== 'number') || !optStr(c.helo) || !optStr(c.saslUser)) return false;
  if (!optStr(m.envid) || !optStr(m.ret) || !optStr(m.bodyType)) return false;
  if (m.smtputf8 !== undefined && typeof m.smtputf8 !== 'boolean') return false;
  if (m.requiretls !== undefined && typeof m.requiretls !== 'boolean') return false;
  if (m.tlsRequiredNo !== undefined && typeof m.tlsRequiredNo !== 'boolean') return false;
  // A filtered message is rare: msgpackr writes its meta (with the filter).
  if (m.filter !== undefined) return false;
  // So is a verify-only one (sendmail -bv).
  if (m.verify !== undefined) return false;
  return m.hold === undefined || typeof m.hold === 'boolean';
}

/** UTF-16 units of every string the meta holds (a bound on its size). */
function textLength(m: NewMessage): number {
  let n = m.queueId.length + m.sender.length + m.client.name.length + m.client.addr.length + m.client.protocol.length +
    (m.client.helo?.length ?? 0) + (m.client.saslUser?.length ?? 0) + (m.envid?.length ?? 0) + (m.ret?.length ?? 0) +
    (m.bodyType?.length ?? 0);
  for (const r of m.recipients) {
    // Each recipient's keys and headers: under 64 bytes besides its strings.
    n += 32 + r.address.length + (r.orcpt?.length ?? 0) + (r.origRcpt?.length ?? 0);
    if (r.notify) for (const x of r.notify) n += x.length + 2;
  }
  return n;
}
