/**
 * soak-load: the soak's mixed load. Some sessions keep their connection
 * and send message after message; others open a connection per message.
 * A shared pacer holds the total to `rate` messages a second (a 2-core
 * machine must also run the daemon). Sizes run from 1 KiB to `maxSize`
 * (5 MiB by default), most small; each message has one to three
 * recipients whose fates (soak-fates) make the sink defer or refuse some,
 * and a token whose fate makes it defer or refuse some at the end of DATA.
 *
 * For each message it records whether the daemon took it (250 after the
 * final dot) and which recipients it took (the RCPT replies, pipelined when
 * offered), or that the final dot got a refusal, or no reply at all (the
 * connection died: the daemon was killed, say). Connection failures are
 * part of a soak: a session backs off and reconnects. Never throws.
 */
import { SourceConnection, SourceConnectError } from '../harness/source-connection.js';
import { Prng } from '../fuzz/fuzz-prng.js';
import { expectedOutcome, recipientAddress, SOAK_SENDER, SOAK_TOKEN_HEADER, type MessageFate, type Outcome, type RecipientFate } from './soak-fates.js';
import type { AcceptedMessage } from './soak-account.js';

export interface LoadOptions {
  host: string;
  port: number;
  /** Messages per second in all. */
  rate: number;
  /** Sessions that keep their connection, and sessions that connect per message. */
  keptSessions: number;
  newSessions: number;
  /** The largest message in bytes (default 5 MiB). */
  maxSize: number;
  /** Seed of the sizes and fates. */
  seed: number;
  runId: string;
}

/** What the load did so far. */
export interface LoadState {
  sent: number;
  accepted: AcceptedMessage[];
  /** Tokens whose final dot got no reply (connection lost). */
  failedAfterDot: Set<string>;
  /** Tokens whose final dot got a 4xx/5xx. */
  refusedAtDot: Set<string>;
  /** Refusals and failures before the final dot, by stage and reply (first 100 distinct). */
  errors: Map<string, number>;
  connections: number;
  bytesAccepted: number;
}

export interface Load {
  state: LoadState;
  /** Stops the sessions after the message in hand; resolves when all are done. */
  stop(): Promise<void>;
}

const LINE = 'The soak keeps the daemon busy for a long time with mail of every size..\r\n';
const BODY_LINE = Buffer.from(LINE.slice(0, 78) + '\r\n', 'latin1');

/** One body of `max` bytes of 80-byte lines, sliced from its end for each message (no line starts with a dot). */
function makeBody(max: number): Buffer {
  const lines = Math.ceil(max / BODY_LINE.length) + 1;
  const buf = Buffer.allocUnsafe(lines * BODY_LINE.length + 3);
  for (let i = 0; i < lines; i++) BODY_LINE.copy(buf, i * BODY_LINE.length);
  buf.write('.\r\n', lines * BODY_LINE.length, 'latin1');
  return buf;
}

/** A size between 1 KiB and max: mostly small, sometimes large. */
function pickSize(r: Prng, max: number): number {
  const band = r.weighted<[number, number]>([[70, [1024, 8192]], [22, [8192, 262_144]], [6, [262_144, 1_048_576]], [2, [1_048_576, max]]]);
  const lo = Math.min(band[0], max);
  const hi = Math.min(band[1], max);
  return Math.round(lo * Math.pow(hi / lo, r.next() / 0x1_0000_0000));
}

/** Starts the sessions; see the file comment. */
export function startLoad(opts: LoadOptions): Load {
  const r = new Prng(opts.seed);
  const body = makeBody(opts.maxSize);
  const state: LoadState = {
    sent: 0, accepted: [], failedAfterDot: new Set(), refusedAtDot: new Set(), errors: new Map(), connections: 0, bytesAccepted: 0,
  };
  let stopping = false;
  let n = 0;
  // the pacer: each message takes the next slot, 1/rate seconds after the last
  let nextSlot = Date.now();
  const slot = async (): Promise<void> => {
    const now = Date.now();
    nextSlot = Math.max(nextSlot + 1000 / opts.rate, now - 1000);
    const wait = nextSlot - now;
    if (wait > 0) await new Promise((res) => setTimeout(res, wait));
  };
  const error = (key: string): void => {
    if (state.errors.size < 100 || state.errors.has(key)) state.errors.set(key, (state.errors.get(key) ?? 0) + 1);
  };

  /** The next message: token, recipients with fates, content. */
  const nextMessage = (): { token: string; rcpts: Array<{ address: string; outcome: Outcome }>; head: string; tail: Buffer; size: number } => {
    const k = n++;
    const msgFate = r.weighted<MessageFate>([[90, 'ok'], [6, 'dd'], [4, 'rj']]);
    const token = `${opts.runId}.${k}.${msgFate}`;
    const count = r.weighted([[70, 1], [20, 2], [10, 3]]);
    const rcpts: Array<{ address: string; outcome: Outcome }> = [];
    for (let i = 0; i < count; i++) {
      const fate = r.weighted<RecipientFate>([[85, 'ok'], [10, 'defer'], [5, 'bounce']]);
      rcpts.push({ address: recipientAddress(fate, k, i), outcome: expectedOutcome(msgFate, fate) });
    }
    const size = pickSize(r, opts.maxSize);
    const head =
      `From: <${SOAK_SENDER}>\r\nTo: <${rcpts[0].address}>\r\nSubject: soak ${k}\r\n` +
      `Message-ID: <${token}@soak-src.test>\r\n${SOAK_TOKEN_HEADER}: ${token}\r\n\r\n`;
    const bodyBytes = Math.max(BODY_LINE.length, size - head.length);
    const lines = Math.ceil(bodyBytes / BODY_LINE.length);
    const tail = body.subarray(body.length - 3 - lines * BODY_LINE.length);
    return { token, rcpts, head, tail, size: head.length + lines * BODY_LINE.length };
  };

  /** Sends one message on an open connection; false when the connection is no longer usable. */
  const send = async (conn: SourceConnection): Promise<boolean> => {
    const m = nextMessage();
    state.sent++;
    let replies: string[];
    if (conn.pipelining) {
      conn.write(`MAIL FROM:<${SOAK_SENDER}>\r\n` + m.rcpts.map((x) => `RCPT TO:<${x.address}>\r\n`).join('') + 'DATA\r\n');
      replies = await conn.read(m.rcpts.length + 2);
    } else {
      replies = [await conn.command(`MAIL FROM:<${SOAK_SENDER}>`)];
      for (const x of m.rcpts) replies.push(await conn.command(`RCPT TO:<${x.address}>`));
      replies.push(await conn.command('DATA'));
    }
    const taken = new Map<string, Outcome>();
    if (!replies[0].startsWith('2')) error(`mail: ${replies[0].slice(0, 60)}`);
    m.rcpts.forEach((x, i) => {
      const reply = replies[i + 1];
      if (reply.startsWith('2')) taken.set(x.address.toLowerCase(), x.outcome);
      else if (replies[0].startsWith('2')) error(`rcpt: ${reply.slice(0, 60)}`);
    });
    const data = replies[m.rcpts.length + 1];
    if (!data.startsWith('354')) {
      if (taken.size > 0) error(`data: ${data.slice(0, 60)}`);
      if (data.startsWith('000')) return false;
      if (conn.ended === undefined) await conn.command('RSET');
      return conn.ended === undefined;
    }
    conn.write(m.head);
    conn.write(m.tail);
    const end = (await conn.read(1))[0];
    if (end.startsWith('2')) {
      state.accepted.push({ token: m.token, recipients: taken });
      state.bytesAccepted += m.size;
    } else if (end.startsWith('000')) {
      state.failedAfterDot.add(m.token);
      error(`dot: ${end.slice(0, 60)}`);
    } else {
      state.refusedAtDot.add(m.token);
      error(`dot: ${end.slice(0, 60)}`);
    }
    return conn.ended === undefined;
  };

  /** Opens and greets; undefined (after a pause that grows) when that fails. */
  const open = async (failures: number): Promise<SourceConnection | undefined> => {
    try {
      const conn = await SourceConnection.open(opts.host, opts.port, 30_000);
      state.connections++;
      const hello = await conn.hello('soak.client.test');
      if (hello.ok) return conn;
      error(`${hello.error!.stage}: ${hello.error!.reply.slice(0, 60)}`);
      await conn.quit();
    } catch (err) {
      error(`connect: ${err instanceof SourceConnectError ? err.message : String(err)}`.slice(0, 80));
    }
    await new Promise((res) => setTimeout(res, Math.min(5000, 100 * 2 ** Math.min(failures, 6))));
    return undefined;
  };

  const kept = async (): Promise<void> => {
    let failures = 0;
    while (!stopping) {
      const conn = await open(failures);
      if (!conn) {
        failures++;
        continue;
      }
      failures = 0;
      // a kept connection still ends now and then, as real clients' do
      for (let k = 0; k < 500 && !stopping; k++) {
        await slot();
        if (stopping || !(await send(conn))) break;
      }
      await conn.quit();
    }
  };

  const fresh = async (): Promise<void> => {
    let failures = 0;
    while (!stopping) {
      await slot();
      if (stopping) break;
      const conn = await open(failures);
      if (!conn) {
        failures++;
        continue;
      }
      failures = 0;
      await send(conn);
      await conn.quit();
    }
  };

  const sessions = [
    ...Array.from({ length: opts.keptSessions }, () => kept()),
    ...Array.from({ length: opts.newSessions }, () => fresh()),
  ];
  return {
    state,
    stop: async () => {
      stopping = true;
      await Promise.all(sessions);
    },
  };
}
