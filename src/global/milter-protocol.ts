/**
 * milter-protocol: the wire format of the Sendmail 8 milter protocol
 * (version 6), MTA side. A packet is a 32-bit big-endian length, a command
 * byte and its data; strings are NUL-terminated. encodePacket() frames one
 * command; PacketReader splits a byte stream into packets and refuses one
 * whose length is absurd (it throws MilterProtocolError, which the client
 * treats as a broken milter). Only constants and pure functions here.
 */

/** Commands from the MTA to the milter (SMFIC_*). */
export const SMFIC = {
  ABORT: 0x41, // 'A'
  BODY: 0x42, // 'B'
  CONNECT: 0x43, // 'C'
  MACRO: 0x44, // 'D'
  BODYEOB: 0x45, // 'E'
  HELO: 0x48, // 'H'
  HEADER: 0x4c, // 'L'
  MAIL: 0x4d, // 'M'
  EOH: 0x4e, // 'N'
  OPTNEG: 0x4f, // 'O'
  QUIT: 0x51, // 'Q'
  RCPT: 0x52, // 'R'
  DATA: 0x54, // 'T'
  UNKNOWN: 0x55, // 'U'
} as const;

/** Replies from the milter (SMFIR_*). */
export const SMFIR = {
  ADDRCPT: 0x2b, // '+'
  DELRCPT: 0x2d, // '-'
  ADDRCPT_PAR: 0x32, // '2'
  SHUTDOWN: 0x34, // '4'
  ACCEPT: 0x61, // 'a'
  REPLBODY: 0x62, // 'b'
  CONTINUE: 0x63, // 'c'
  DISCARD: 0x64, // 'd'
  CHGFROM: 0x65, // 'e'
  CONN_FAIL: 0x66, // 'f'
  ADDHEADER: 0x68, // 'h'
  INSHEADER: 0x69, // 'i'
  SETSYMLIST: 0x6c, // 'l'
  CHGHEADER: 0x6d, // 'm'
  PROGRESS: 0x70, // 'p'
  QUARANTINE: 0x71, // 'q'
  REJECT: 0x72, // 'r'
  SKIP: 0x73, // 's'
  TEMPFAIL: 0x74, // 't'
  REPLYCODE: 0x79, // 'y'
  OPTNEG: 0x4f, // 'O'
} as const;

/** Steps the milter may ask not to receive, or not to answer (SMFIP_*). */
export const SMFIP = {
  NOCONNECT: 1 << 0,
  NOHELO: 1 << 1,
  NOMAIL: 1 << 2,
  NORCPT: 1 << 3,
  NOBODY: 1 << 4,
  NOHDRS: 1 << 5,
  NOEOH: 1 << 6,
  NR_HDR: 1 << 7,
  NOUNKNOWN: 1 << 8,
  NODATA: 1 << 9,
  SKIP: 1 << 10,
  RCPT_REJ: 1 << 11,
  NR_CONN: 1 << 12,
  NR_HELO: 1 << 13,
  NR_MAIL: 1 << 14,
  NR_RCPT: 1 << 15,
  NR_DATA: 1 << 16,
  NR_UNKN: 1 << 17,
  NR_EOH: 1 << 18,
  NR_BODY: 1 << 19,
  HDR_LEADSPC: 1 << 20,
} as const;

/** Modifications the milter may make at end of message (SMFIF_*). */
export const SMFIF = {
  ADDHDRS: 1 << 0,
  CHGBODY: 1 << 1,
  ADDRCPT: 1 << 2,
  DELRCPT: 1 << 3,
  CHGHDRS: 1 << 4,
  QUARANTINE: 1 << 5,
  CHGFROM: 1 << 6,
  ADDRCPT_PAR: 1 << 7,
  SETSYMLIST: 1 << 8,
} as const;

/** Every modification Postrider applies (Postfix offers the same set). */
export const MTA_ACTIONS = 0x1ff;

/** Macro stages of SMFIR_SETSYMLIST / the OPTNEG reply (SMFIM_*), as indexes. */
export const SMFIM = { CONNECT: 0, HELO: 1, ENVFROM: 2, ENVRCPT: 3, DATA: 4, EOM: 5, EOH: 6 } as const;

const V2 = SMFIP.NOCONNECT | SMFIP.NOHELO | SMFIP.NOMAIL | SMFIP.NORCPT | SMFIP.NOBODY | SMFIP.NOHDRS | SMFIP.NOEOH;
const NO_REPLY = SMFIP.NR_CONN | SMFIP.NR_HELO | SMFIP.NR_MAIL | SMFIP.NR_RCPT | SMFIP.NR_DATA | SMFIP.NR_UNKN | SMFIP.NR_HDR | SMFIP.NR_EOH | SMFIP.NR_BODY;

/** The events each protocol version may skip (what the MTA offers), as Postfix's milter_protocol. */
export const PROTOCOL_MASKS: Record<number, number> = {
  2: V2,
  3: V2 | SMFIP.NOUNKNOWN,
  4: V2 | SMFIP.NOUNKNOWN | SMFIP.NODATA,
  6: V2 | SMFIP.NOUNKNOWN | SMFIP.NODATA | SMFIP.SKIP | SMFIP.RCPT_REJ | NO_REPLY | SMFIP.HDR_LEADSPC,
};

/** The "may skip" bits: events that a lower protocol version does not know at all. */
export const NOSEND_MASK = V2 | SMFIP.NOUNKNOWN | SMFIP.NODATA;

/** Largest body chunk per SMFIC_BODY (libmilter's buffer). */
export const CHUNK_SIZE = 65535;

/** Longest packet accepted from a milter (Postfix's bound: two chunks). */
export const MAX_PACKET = CHUNK_SIZE * 2;

export class MilterProtocolError extends Error {
  readonly code = 'ERR_MILTER_PROTOCOL';
}

/** One packet: its command byte and data. */
export interface MilterPacket {
  cmd: number;
  data: Buffer;
}

/** Frames one command with its data (strings already NUL-terminated by the caller, or by cstrings()). */
export function encodePacket(cmd: number, data: Buffer = EMPTY): Buffer {
  const out = Buffer.allocUnsafe(5 + data.length);
  out.writeUInt32BE(data.length + 1, 0);
  out[4] = cmd;
  data.copy(out, 5);
  return out;
}

/** Strings, each NUL-terminated, one after another. */
export function cstrings(...parts: string[]): Buffer {
  return Buffer.from(parts.map((p) => `${p}\0`).join(''), 'utf8');
}

/** 32-bit big-endian integers. */
export function uint32s(...values: number[]): Buffer {
  const b = Buffer.allocUnsafe(4 * values.length);
  values.forEach((v, i) => b.writeUInt32BE(v >>> 0, i * 4));
  return b;
}

/** The NUL-terminated strings of a packet's data, from an offset; a last unterminated one counts too. */
export function readStrings(data: Buffer, offset = 0): string[] {
  const out: string[] = [];
  let start = offset;
  while (start < data.length) {
    let end = data.indexOf(0, start);
    if (end < 0) end = data.length;
    out.push(data.toString('utf8', start, end));
    start = end + 1;
  }
  return out;
}

const EMPTY = Buffer.alloc(0);

/** Splits the byte stream from a milter into packets. */
export class PacketReader {
  private buf: Buffer = EMPTY;

  /** Adds bytes; returns the packets now complete. Throws MilterProtocolError on a bad length. */
  push(chunk: Buffer): MilterPacket[] {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    const out: MilterPacket[] = [];
    while (this.buf.length >= 4) {
      const len = this.buf.readUInt32BE(0);
      if (len < 1) throw new MilterProtocolError(`bad packet length: ${len}`);
      if (len > MAX_PACKET) throw new MilterProtocolError(`unreasonable packet length: ${len}`);
      if (this.buf.length < 4 + len) break;
      out.push({ cmd: this.buf[4], data: Buffer.from(this.buf.subarray(5, 4 + len)) });
      this.buf = this.buf.subarray(4 + len);
    }
    return out;
  }
}
