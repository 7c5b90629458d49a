/**
 * dns-query: one DNS question asked directly of a name server, for what
 * node:dns does not report: the TTL of TXT, MX, PTR and CNAME answers
 * (resolveWithTtl: the records in node:dns's shapes with the smallest TTL
 * among them, so that SPF, DKIM, DMARC and ARC records are cached for
 * exactly as long as their zone allows), and whether the resolver
 * validated an answer with DNSSEC (resolveSecure: the AD bit, asked for
 * with DO and AD in the query as RFC 6840 5.7 says, for DANE's MX, address
 * and TLSA lookups). Over UDP with EDNS0 (4096-byte answers), and over TCP
 * when the answer comes back truncated, as a stub resolver does.
 *
 * Errors: rejects with node:dns's codes, so callers treat both alike:
 * ENOTFOUND (NXDOMAIN), ENODATA (the name has no record of the type),
 * ESERVFAIL, EREFUSED, EBADRESP (an answer that cannot be read), ETIMEOUT
 * (no server answered in time; each server is tried in turn).
 */
import { createSocket } from 'node:dgram';
import { connect, isIP } from 'node:net';
import { randomInt } from 'node:crypto';
import dnsPacket from 'dns-packet';

export type TtlRecordType = 'TXT' | 'MX' | 'PTR' | 'CNAME';
/** The types resolveSecure asks for. */
export type SecureRecordType = 'MX' | 'A' | 'AAAA' | 'TLSA';
type QueryType = TtlRecordType | SecureRecordType;

export interface TtlAnswer {
  /** As node:dns's resolve() gives them: TXT string[][], MX { exchange, priority }[], PTR/CNAME string[]. */
  records: unknown[];
  /** Seconds: the smallest TTL of the records. */
  ttl: number;
}

const RCODES = ['NOERROR', 'FORMERR', 'SERVFAIL', 'NXDOMAIN', 'NOTIMP', 'REFUSED'];

/** An error shaped as node:dns's ("queryTxt ENOTFOUND name"). */
function dnsError(code: string, name: string): NodeJS.ErrnoException {
  return Object.assign(new Error(`query ${code} ${name}`), { code, hostname: name });
}

/** "1.2.3.4", "1.2.3.4:53", "[::1]:53" or "::1" as host and port. */
export function serverAddress(server: string): { host: string; port: number } {
  const v6 = /^\[([^\]]+)\](?::(\d+))?$/.exec(server);
  if (v6) return { host: v6[1], port: v6[2] ? Number(v6[2]) : 53 };
  if (isIP(server) === 6) return { host: server, port: 53 };
  const i = server.lastIndexOf(':');
  if (i > 0) return { host: server.slice(0, i), port: Number(server.slice(i + 1)) };
  return { host: server, port: 53 };
}

/** The records of the asked type in a decoded answer, and their TTL; throws node:dns's codes. */
function readAnswer(res: dnsPacket.Packet, name: string, type: TtlRecordType): TtlAnswer {
  const rcode = ((res as { rcode?: string }).rcode ?? RCODES[(res.flags ?? 0) & 15] ?? 'UNKNOWN').toUpperCase();
  if (rcode === 'NXDOMAIN') throw dnsError('ENOTFOUND', name);
  if (rcode === 'SERVFAIL') throw dnsError('ESERVFAIL', name);
  if (rcode === 'REFUSED') throw dnsError('EREFUSED', name);
  if (rcode !== 'NOERROR') throw dnsError('EBADRESP', name);
  const answers = (res.answers ?? []).filter((a) => a.type === type);
  if (answers.length === 0) throw dnsError('ENODATA', name);
  const ttl = answers.reduce((min, a) => Math.min(min, (a as { ttl?: number }).ttl ?? 0), 2_147_483_647);
  const records = answers.map((a) => {
    const data = (a as { data: unknown }).data;
    if (type === 'TXT') return (Array.isArray(data) ? data : [data]).map((d) => (Buffer.isBuffer(d) ? d.toString('utf8') : String(d)));
    if (type === 'MX') {
      const mx = data as { preference: number; exchange: string };
      return { exchange: mx.exchange, priority: mx.preference };
    }
    return String(data);
  });
  return { records, ttl };
}

function query(name: string, type: QueryType, dnssec: boolean): { id: number; bytes: Buffer } {
  const id = randomInt(0, 65536);
  const bytes = dnsPacket.encode({
    type: 'query',
    id,
    flags: dnsPacket.RECURSION_DESIRED | (dnssec ? dnsPacket.AUTHENTIC_DATA : 0),
    questions: [{ type, name, class: 'IN' }],
    additionals: [{ type: 'OPT', name: '.', udpPayloadSize: 4096, flags: dnssec ? dnsPacket.DNSSEC_OK : 0 } as unknown as dnsPacket.Answer],
  });
  return { id, bytes };
}

function overUdp(host: string, port: number, name: string, type: QueryType, timeoutMs: number, dnssec = false): Promise<dnsPacket.Packet> {
  return new Promise((resolve, reject) => {
    const q = query(name, type, dnssec);
    const sock = createSocket(isIP(host) === 6 ? 'udp6' : 'udp4');
    const timer = setTimeout(() => finish(undefined, dnsError('ETIMEOUT', name)), timeoutMs);
    const finish = (res?: dnsPacket.Packet, err?: Error): void => {
      clearTimeout(timer);
      sock.close();
      if (err) reject(err);
      else resolve(res!);
    };
    sock.on('error', (err) => finish(undefined, err));
    sock.on('message', (msg) => {
      let res: dnsPacket.Packet;
      try {
        res = dnsPacket.decode(msg);
      } catch {
        return; // not an answer we can read: wait for the real one or the timeout
      }
      if (res.id === q.id) finish(res);
    });
    sock.send(q.bytes, port, host, (err) => {
      if (err) finish(undefined, err);
    });
  });
}

function overTcp(host: string, port: number, name: string, type: QueryType, timeoutMs: number, dnssec = false): Promise<dnsPacket.Packet> {
  return new Promise((resolve, reject) => {
    const q = query(name, type, dnssec);
    const sock = connect({ host, port });
    let buf = Buffer.alloc(0);
    const timer = setTimeout(() => finish(undefined, dnsError('ETIMEOUT', name)), timeoutMs);
    const finish = (res?: dnsPacket.Packet, err?: Error): void => {
      clearTimeout(timer);
      sock.destroy();
      if (err) reject(err);
      else resolve(res!);
    };
    sock.on('error', (err) => finish(undefined, err));
    sock.on('connect', () => sock.write(dnsPacket.streamEncode(dnsPacket.decode(q.bytes))));
    sock.on('data', (chunk: Buffer) => {
      buf = Buffer.concat([buf, chunk]);
      if (buf.length < 2 || buf.length < 2 + buf.readUInt16BE(0)) return;
      try {
        finish(dnsPacket.streamDecode(buf));
      } catch {
        finish(undefined, dnsError('EBADRESP', name));
      }
    });
  });
}

/** Asks each server in turn until one answers; the records of `type` with their TTL. */
export async function resolveWithTtl(servers: string[], name: string, type: TtlRecordType, timeoutMs = 2000): Promise<TtlAnswer> {
  let last: Error = dnsError('ETIMEOUT', name);
  for (const server of servers) {
    const { host, port } = serverAddress(server);
    try {
      let res = await overUdp(host, port, name, type, timeoutMs);
      // Truncated over UDP: the whole answer over TCP.
      if (((res.flags ?? 0) & dnsPacket.TRUNCATED_RESPONSE) !== 0) res = await overTcp(host, port, name, type, timeoutMs);
      return readAnswer(res, name, type);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // A name server's verdict on the name is final; a failure of the server lets the next one try.
      if (code === 'ENOTFOUND' || code === 'ENODATA') throw err;
      last = err as Error;
    }
  }
  throw last;
}

/** A DNSSEC-aware answer: the records of the asked type (dns-packet's data shapes) and whether the resolver set AD. */
export interface SecureAnswer {
  /** MX { preference, exchange }, A/AAAA address strings, TLSA { usage, selector, matchingType, certificate }. */
  records: unknown[];
  /** The AD bit: the resolver validated the answer (a trusted resolver, as smtp_dns_support_level = dnssec assumes). */
  secure: boolean;
  /** Seconds: the smallest TTL of the records (60 for an empty answer). */
  ttl: number;
}

/**
 * Asks each server in turn for `type` records of `name` with DO and AD set;
 * the records and the AD bit. NOERROR without records is an empty answer
 * (its AD bit still tells whether the absence is proven); NXDOMAIN rejects
 * with ENOTFOUND and an `secure` property carrying its AD bit.
 */
export async function resolveSecure(servers: string[], name: string, type: SecureRecordType, timeoutMs = 2000): Promise<SecureAnswer> {
  let last: Error = dnsError('ETIMEOUT', name);
  for (const server of servers) {
    const { host, port } = serverAddress(server);
    let res: dnsPacket.Packet;
    try {
      res = await overUdp(host, port, name, type, timeoutMs, true);
      if (((res.flags ?? 0) & dnsPacket.TRUNCATED_RESPONSE) !== 0) res = await overTcp(host, port, name, type, timeoutMs, true);
    } catch (err) {
      last = err as Error;
      continue;
    }
    const secure = ((res.flags ?? 0) & dnsPacket.AUTHENTIC_DATA) !== 0;
    const rcode = ((res as { rcode?: string }).rcode ?? RCODES[(res.flags ?? 0) & 15] ?? 'UNKNOWN').toUpperCase();
    if (rcode === 'NXDOMAIN') throw Object.assign(dnsError('ENOTFOUND', name), { secure });
    if (rcode !== 'NOERROR') {
      last = dnsError(rcode === 'SERVFAIL' ? 'ESERVFAIL' : rcode === 'REFUSED' ? 'EREFUSED' : 'EBADRESP', name);
      continue;
    }
    const answers = (res.answers ?? []).filter((a) => a.type === type);
    const ttl = answers.length ? answers.reduce((min, a) => Math.min(min, (a as { ttl?: number }).ttl ?? 0), 2_147_483_647) : 60;
    return { records: answers.map((a) => (a as { data: unknown }).data), secure, ttl };
  }
  throw last;
}
