/**
 * soak-sink: the soak's next hop, the test suite's scriptable SMTP sink
 * (smtp-server underneath) answering by the fates in recipient addresses
 * and tokens (soak-fates), and counting, per token and recipient, the
 * copies delivered and the failure notices that name them. A notice is a
 * message from the null sender whose delivery-status part names the
 * recipient with "Action: failed"; the token is read from the returned
 * headers. Message bodies are not kept (a soak moves gigabytes).
 * Never throws into the server.
 */
import { startSmtpSink, type SmtpSink, type SinkMessage } from '../../test/helpers/smtp-sink.js';
import { messageFate, recipientFate, SOAK_TOKEN_HEADER } from './soak-fates.js';

/** Counts per token, then per recipient address (lower case). */
export type Tally = Map<string, Map<string, number>>;

export interface SoakSink {
  host: string;
  port: number;
  /** Copies the sink took, per token and recipient. */
  delivered: Tally;
  /** Failure notices received, per original token and failed recipient. */
  bounced: Tally;
  /** Messages taken with no token (neither a soak message nor a notice about one). */
  strays: number;
  /** Scripted refusals given, by kind. */
  refusals: { rcpt450: number; rcpt550: number; data451: number; data554: number };
  messages: number;
  close(): Promise<void>;
}

const TOKEN_LINE = new RegExp(`^${SOAK_TOKEN_HEADER}:[ \\t]*(\\S+)`, 'mi');
const FAILED_BLOCK = /Final-Recipient: rfc822;\s*([^\r\n]+)\r?\n(?:[^\r\n]+\r?\n)*?Action: failed/gi;

function bump(t: Tally, token: string, rcpt: string): void {
  const m = t.get(token) ?? new Map<string, number>();
  m.set(rcpt, (m.get(rcpt) ?? 0) + 1);
  t.set(token, m);
}

/** The token in the header section only (a notice carries the original's further down). */
function headerToken(raw: Buffer): string | undefined {
  const end = raw.indexOf('\r\n\r\n');
  const head = raw.toString('latin1', 0, end < 0 ? Math.min(raw.length, 65536) : end);
  return TOKEN_LINE.exec(head)?.[1];
}

/** Starts the sink on a free loopback port. */
export async function startSoakSink(): Promise<SoakSink> {
  const rcptTries = new Map<string, number>();
  const dataTries = new Map<string, number>();
  const s: Omit<SoakSink, 'host' | 'port' | 'close'> = {
    delivered: new Map(),
    bounced: new Map(),
    strays: 0,
    refusals: { rcpt450: 0, rcpt550: 0, data451: 0, data554: 0 },
    messages: 0,
  };
  const ref: { sink?: SmtpSink } = {};
  const take = (m: SinkMessage): { code: number; message: string } | null => {
    // the helper keeps every message; a soak cannot, so the list is emptied as it goes
    setImmediate(() => {
      if (ref.sink) ref.sink.messages.length = 0;
    });
    const token = headerToken(m.raw);
    if (m.mailFrom === '') {
      const text = m.raw.toString('latin1');
      const original = TOKEN_LINE.exec(text)?.[1];
      let named = false;
      for (const hit of text.matchAll(FAILED_BLOCK)) {
        if (!original) break;
        bump(s.bounced, original, hit[1].trim().toLowerCase());
        named = true;
      }
      s.messages++;
      if (!named) s.strays++;
      return null;
    }
    const fate = messageFate(token);
    if (token && fate === 'rj') {
      s.refusals.data554++;
      return { code: 554, message: '5.7.1 soak: refused at the end of DATA' };
    }
    if (token && fate === 'dd') {
      const n = (dataTries.get(token) ?? 0) + 1;
      dataTries.set(token, n);
      if (n === 1) {
        s.refusals.data451++;
        return { code: 451, message: '4.3.0 soak: try again later' };
      }
      dataTries.delete(token);
    }
    s.messages++;
    if (!token) s.strays++;
    else for (const r of m.rcptTo) bump(s.delivered, token, r.toLowerCase());
    return null;
  };
  const sink = await startSmtpSink({
    rcpt: (to) => {
      const fate = recipientFate(to);
      if (fate === 'bounce') {
        s.refusals.rcpt550++;
        return { code: 550, message: `5.1.1 <${to}>: soak: no such user` };
      }
      if (fate === 'defer') {
        const key = to.toLowerCase();
        const n = (rcptTries.get(key) ?? 0) + 1;
        rcptTries.set(key, n);
        if (n === 1) {
          s.refusals.rcpt450++;
          return { code: 450, message: `4.2.0 <${to}>: soak: mailbox busy` };
        }
        rcptTries.delete(key);
      }
      return null;
    },
    data: (m) => take(m),
  });
  ref.sink = sink;
  return Object.assign(s, {
    host: sink.host,
    port: sink.port,
    close: () => sink.close(),
  });
}
