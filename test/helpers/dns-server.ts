/**
 * dns-server: a real authoritative DNS server on loopback (UDP) for tests,
 * answering from a zone given as a plain object. A name absent from the zone
 * is NXDOMAIN; a name present without the asked type answers NOERROR with no
 * records (Node reports ENODATA). Malformed queries are ignored.
 *
 *   const dns = await startDnsServer({
 *     'example.com': { MX: [{ preference: 10, exchange: 'mx1.example.com' }] },
 *     'mx1.example.com': { A: ['127.0.0.1'] },
 *     'null.example': { MX: [{ preference: 0, exchange: '.' }] },
 *     'broken.example': { servfail: true },
 *     'spf.example': { TXT: ['v=spf1 ip4:127.0.0.1 -all'] },
 *     '_25._tcp.mx1.example.com': { TLSA: [{ usage: 3, selector: 1, matchingType: 1, data: digest }], ad: true },
 *   });
 *   A name with `ad: true` is answered with the AD bit set, as a validating
 *   resolver marks DNSSEC-secure answers (also its NXDOMAIN and empty answers).
 *   config: dns_resolver_servers = `${dns.address}:${dns.port}`
 *   dns.queries -> ["example.com MX", "mx1.example.com A", ...]
 *   await dns.close();
 */
import { createSocket } from 'node:dgram';
import dnsPacket from 'dns-packet';

/** The records of one name. */
export interface ZoneEntry {
  MX?: Array<{ preference: number; exchange: string }>;
  A?: string[];
  AAAA?: string[];
  /** TXT records (SPF, DKIM keys, DMARC), each split into 255-byte strings on the wire. */
  TXT?: string[];
  /** Answer NXDOMAIN even though the name is listed. */
  nxdomain?: boolean;
  /** Answer SERVFAIL (a temporary failure) to every query for this name. */
  servfail?: boolean;
  /** TLSA records (RFC 6698): usage, selector, matching type and the association data. */
  TLSA?: Array<{ usage: number; selector: number; matchingType: number; data: Buffer }>;
  /** Set the AD bit in answers for this name: DNSSEC-secure, as a validating resolver says. */
  ad?: boolean;
  /** The TTL of every record of the name, in seconds (default 60). */
  ttl?: number;
}

export type Zone = Record<string, ZoneEntry>;

export interface TestDnsServer {
  port: number;
  address: string;
  /** "name TYPE" of every query received, in order (names lower case, no trailing dot). */
  queries: string[];
  /** The zone; edit it between queries to change answers. */
  zone: Zone;
  close(): Promise<void>;
}

function norm(name: string): string {
  return name.toLowerCase().replace(/\.$/, '');
}

/** Starts the server on 127.0.0.1 with a free port. */
export async function startDnsServer(zone: Zone): Promise<TestDnsServer> {
  const socket = createSocket('udp4');
  const queries: string[] = [];
  const table: Zone = {};
  for (const [name, entry] of Object.entries(zone)) table[norm(name)] = entry;

  socket.on('message', (msg, rinfo) => {
    let query: dnsPacket.Packet;
    try {
      query = dnsPacket.decode(msg);
    } catch {
      return;
    }
    const q = query.questions?.[0];
    if (!q) return;
    const name = norm(q.name);
    queries.push(`${name} ${q.type}`);
    const entry = table[name];
    let rcode = 'NOERROR';
    const answers: dnsPacket.Answer[] = [];
    if (!entry || entry.nxdomain) rcode = 'NXDOMAIN';
    else if (entry.servfail) rcode = 'SERVFAIL';
    else if (q.type === 'MX') {
      for (const mx of entry.MX ?? []) {
        answers.push({ type: 'MX', name: q.name, ttl: entry.ttl ?? 60, class: 'IN', data: { preference: mx.preference, exchange: mx.exchange === '.' ? '' : norm(mx.exchange) } });
      }
    } else if (q.type === 'A') {
      for (const a of entry.A ?? []) answers.push({ type: 'A', name: q.name, ttl: entry.ttl ?? 60, class: 'IN', data: a });
    } else if (q.type === 'AAAA') {
      for (const a of entry.AAAA ?? []) answers.push({ type: 'AAAA', name: q.name, ttl: entry.ttl ?? 60, class: 'IN', data: a });
    } else if (q.type === 'TLSA') {
      for (const t of entry.TLSA ?? []) {
        answers.push({ type: 'TLSA', name: q.name, ttl: entry.ttl ?? 60, class: 'IN', data: { usage: t.usage, selector: t.selector, matchingType: t.matchingType, certificate: t.data } } as unknown as dnsPacket.Answer);
      }
    } else if (q.type === 'TXT') {
      for (const t of entry.TXT ?? []) {
        const chunks: string[] = [];
        for (let i = 0; i < t.length; i += 255) chunks.push(t.slice(i, i + 255));
        answers.push({ type: 'TXT', name: q.name, ttl: entry.ttl ?? 60, class: 'IN', data: chunks.length > 0 ? chunks : [''] });
      }
    }
    const reply = dnsPacket.encode({
      type: 'response',
      id: query.id,
      // rcode rides in the low bits of the flags word.
      flags: dnsPacket.AUTHORITATIVE_ANSWER | dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE | rcodeBits(rcode)
        | (entry?.ad ? dnsPacket.AUTHENTIC_DATA : 0),
      questions: [q],
      answers,
    });
    socket.send(reply, rinfo.port, rinfo.address);
  });

  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => {
      socket.removeListener('error', reject);
      resolve();
    });
  });
  socket.on('error', () => undefined);
  const { port, address } = socket.address();
  return {
    port,
    address,
    queries,
    zone: new Proxy(table, {
      set(target, key, value) {
        target[norm(String(key))] = value as ZoneEntry;
        return true;
      },
    }),
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}

function rcodeBits(rcode: string): number {
  switch (rcode) {
    case 'SERVFAIL': return 2;
    case 'NXDOMAIN': return 3;
    default: return 0;
  }
}
