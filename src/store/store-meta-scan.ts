/**
 * store-meta-scan: reads a message record's msgpack meta without building
 * it. Recovery needs only the queue id, the hold flag and whether a recipient
 * is ready, plus the same shape checks the full decoder's caller makes
 * (isMessageMeta); everything else stays packed until someone asks for the
 * message. The scanner walks the bytes once, allocates only the queue-id
 * string, and never throws: a value it cannot read, an extension type other
 * than `undefined` and timestamps, or nesting deeper than MAX_DEPTH makes
 * the meta malformed, as a failed decode would; a 64-bit integer counts as
 * a BigInt (as msgpackr decodes it), not a number; a map key that is not a
 * string is taken only when msgpackr takes it (a scalar: a container, binary
 * or timestamp key fails its decode). It is stricter than msgpackr only on
 * extension types the store never writes (those are refused).
 */

/** What scanMessageMeta found; one object is reused across calls. */
export interface MetaSummary {
  queueId: string;
  hold: boolean;
  /** At least one recipient in state "ready". */
  ready: boolean;
}

const MAX_DEPTH = 32;

const T_ERR = -1;
const T_NUM = 1;
const T_STR = 2;
const T_MAP = 3;
const T_ARR = 4;
const T_TRUE = 5;
const T_OTHER = 6;
/** A binary or a timestamp: msgpackr decodes it as an object (Buffer, Date). */
const T_OBJ = 7;

// The scanner's cursor and its last string / container header, shared by the
// helpers below so nothing is allocated per value.
let pos = 0;
let limit = 0;
let strStart = 0;
let strEnd = 0;
let count = 0;

const ascii = (s: string): Uint8Array => Uint8Array.from(s, (c) => c.charCodeAt(0));
const K_QUEUE_ID = ascii('queueId');
const K_ARRIVAL = ascii('arrivalTime');
const K_SENDER = ascii('sender');
const K_RECIPIENTS = ascii('recipients');
const K_CLIENT = ascii('client');
const K_HEADER_LENGTH = ascii('headerLength');
const K_HOLD = ascii('hold');
const K_ADDRESS = ascii('address');
const K_STATE = ascii('state');
const K_ATTEMPTS = ascii('attempts');
const V_READY = ascii('ready');

/** True when the last string read equals `name` (ASCII). */
function strIs(buf: Uint8Array, name: Uint8Array): boolean {
  const n = name.length;
  if (strEnd - strStart !== n) return false;
  for (let i = 0; i < n; i++) if (buf[strStart + i] !== name[i]) return false;
  return true;
}

function need(n: number): boolean {
  return pos + n <= limit;
}

function be16(buf: Uint8Array, at: number): number {
  return (buf[at] << 8) | buf[at + 1];
}

function be32(buf: Uint8Array, at: number): number {
  return ((buf[at] << 24) >>> 0) + ((buf[at + 1] << 16) | (buf[at + 2] << 8) | buf[at + 3]);
}

/** Skips `len` payload bytes; the type to report when they fit. */
function payload(len: number, type: number): number {
  if (!need(len)) return T_ERR;
  pos += len;
  return type;
}

/**
 * Reads one value's header at `pos`. Strings set strStart/strEnd and are
 * consumed; maps and arrays set `count` and leave their entries to the
 * caller; scalars are consumed.
 */
function head(buf: Uint8Array): number {
  if (pos >= limit) return T_ERR;
  const b = buf[pos++];
  if (b <= 0x7f || b >= 0xe0) return T_NUM;
  if (b <= 0x8f) {
    count = b & 0x0f;
    return T_MAP;
  }
  if (b <= 0x9f) {
    count = b & 0x0f;
    return T_ARR;
  }
  if (b <= 0xbf) return str(b & 0x1f);
  switch (b) {
    case 0xc0: case 0xc2: return T_OTHER;
    case 0xc3: return T_TRUE;
    case 0xc4: return need(1) ? payload(buf[pos++], T_OBJ) : T_ERR;
    case 0xc5: if (!need(2)) return T_ERR; pos += 2; return payload(be16(buf, pos - 2), T_OBJ);
    case 0xc6: if (!need(4)) return T_ERR; pos += 4; return payload(be32(buf, pos - 4), T_OBJ);
    case 0xca: return payload(4, T_NUM);
    case 0xcb: return payload(8, T_NUM);
    case 0xcc: case 0xd0: return payload(1, T_NUM);
    case 0xcd: case 0xd1: return payload(2, T_NUM);
    case 0xce: case 0xd2: return payload(4, T_NUM);
    // msgpackr decodes 64-bit integers to BigInts: valid values, but not numbers.
    case 0xcf: case 0xd3: return payload(8, T_OTHER);
    // Of the extensions, only those msgpackr itself writes for plain data:
    // `undefined` (fixext 1, type 0) and timestamps (type -1: 4, 8 or 12 bytes).
    case 0xd4:
      if (!need(2) || buf[pos] !== 0) return T_ERR;
      pos += 2;
      return T_OTHER;
    case 0xd6: case 0xd7:
      if (!need(1) || buf[pos] !== 0xff) return T_ERR;
      return payload(b === 0xd6 ? 5 : 9, T_OBJ);
    case 0xc7:
      if (!need(2) || buf[pos] !== 12 || buf[pos + 1] !== 0xff) return T_ERR;
      return payload(14, T_OBJ);
    case 0xd9: return need(1) ? str(buf[pos++]) : T_ERR;
    case 0xda: if (!need(2)) return T_ERR; pos += 2; return str(be16(buf, pos - 2));
    case 0xdb: if (!need(4)) return T_ERR; pos += 4; return str(be32(buf, pos - 4));
    case 0xdc: if (!need(2)) return T_ERR; count = be16(buf, pos); pos += 2; return T_ARR;
    case 0xdd: if (!need(4)) return T_ERR; count = be32(buf, pos); pos += 4; return T_ARR;
    case 0xde: if (!need(2)) return T_ERR; count = be16(buf, pos); pos += 2; return T_MAP;
    case 0xdf: if (!need(4)) return T_ERR; count = be32(buf, pos); pos += 4; return T_MAP;
    default: return T_ERR;
  }
}

function str(len: number): number {
  if (!need(len)) return T_ERR;
  strStart = pos;
  strEnd = pos + len;
  pos += len;
  return T_STR;
}

/** Skips one whole value; its type, or T_ERR. */
function skip(buf: Uint8Array, depth: number): number {
  return rest(buf, head(buf), depth);
}

/** Finishes the value whose header head() just read (type `t`): a container's entries are skipped; `t`, or T_ERR. */
function rest(buf: Uint8Array, t: number, depth: number): number {
  return t === T_MAP || t === T_ARR ? skipEntries(buf, t, depth) : t;
}

/** Reads one recipient map; 1 ready, 0 not ready, -1 malformed. */
function recipient(buf: Uint8Array): number {
  if (head(buf) !== T_MAP) return -1;
  const n = count;
  let address = false;
  let state = false;
  let attempts = false;
  let ready = false;
  for (let i = 0; i < n; i++) {
    const kt = head(buf);
    if (kt !== T_STR) {
      if (!scalarKey(kt) || skip(buf, 2) === T_ERR) return -1;
      continue;
    }
    if (strIs(buf, K_ADDRESS)) {
      address = skip(buf, 2) === T_STR;
    } else if (strIs(buf, K_STATE)) {
      const vt = skip(buf, 2);
      state = vt === T_STR;
      ready = state && strIs(buf, V_READY);
    } else if (strIs(buf, K_ATTEMPTS)) {
      attempts = skip(buf, 2) === T_NUM;
    } else if (skip(buf, 2) === T_ERR) {
      return -1;
    }
  }
  if (!address || !state || !attempts) return -1;
  return ready ? 1 : 0;
}

/**
 * Whether msgpackr takes a map key of type `t` that is not a string: a
 * number, boolean, nil or `undefined` becomes its string; a key it decodes
 * as an object (container, binary, timestamp) fails the decode.
 */
function scalarKey(t: number): boolean {
  return t === T_NUM || t === T_TRUE || t === T_OTHER;
}

/** Skips the entries of a container whose header was just read. */
function skipEntries(buf: Uint8Array, t: number, depth: number): number {
  if (depth >= MAX_DEPTH) return T_ERR;
  const n = t === T_MAP ? count * 2 : count;
  for (let i = 0; i < n; i++) if (skip(buf, depth + 1) === T_ERR) return T_ERR;
  return t;
}

/**
 * Checks a message meta at buf[start, end) as isMessageMeta would check its
 * decoded form, filling `out`; false when it is malformed.
 */
export function scanMessageMeta(buf: Buffer, start: number, end: number, out: MetaSummary): boolean {
  pos = start;
  limit = end;
  if (end <= start || head(buf) !== T_MAP) return false;
  const n = count;
  let queueId = -1;
  let queueIdEnd = -1;
  let arrival = false;
  let sender = false;
  let recipients = false;
  let client = false;
  let headerLength = false;
  let hold = false;
  let ready = false;
  for (let i = 0; i < n; i++) {
    const kt = head(buf);
    if (kt !== T_STR) {
      if (!scalarKey(kt) || skip(buf, 1) === T_ERR) return false;
      continue;
    }
    if (strIs(buf, K_QUEUE_ID)) {
      if (skip(buf, 1) === T_STR) {
        queueId = strStart;
        queueIdEnd = strEnd;
      } else {
        queueId = -1;
      }
    } else if (strIs(buf, K_RECIPIENTS)) {
      recipients = false;
      ready = false;
      const t = head(buf);
      if (t !== T_ARR) {
        // Not a list: the meta is malformed unless a later duplicate key fixes it, as when decoded.
        if (rest(buf, t, 1) === T_ERR) return false;
        continue;
      }
      const r = count;
      for (let j = 0; j < r; j++) {
        const one = recipient(buf);
        if (one < 0) return false;
        if (one === 1) ready = true;
      }
      recipients = true;
    } else if (strIs(buf, K_HOLD)) {
      hold = skip(buf, 1) === T_TRUE;
    } else if (strIs(buf, K_ARRIVAL)) {
      arrival = skip(buf, 1) === T_NUM;
    } else if (strIs(buf, K_SENDER)) {
      sender = skip(buf, 1) === T_STR;
    } else if (strIs(buf, K_CLIENT)) {
      const t = skip(buf, 1);
      client = t === T_MAP || t === T_ARR || t === T_OBJ;
    } else if (strIs(buf, K_HEADER_LENGTH)) {
      headerLength = skip(buf, 1) === T_NUM;
    } else if (skip(buf, 1) === T_ERR) {
      return false;
    }
  }
  // The full decoder refuses bytes left over after the map; so does this.
  if (pos !== end) return false;
  if (queueId < 0 || !arrival || !sender || !recipients || !client || !headerLength) return false;
  out.queueId = buf.toString('utf8', queueId, queueIdEnd);
  out.hold = hold;
  out.ready = ready;
  return true;
}
