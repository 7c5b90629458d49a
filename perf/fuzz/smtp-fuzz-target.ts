/**
 * smtp-fuzz-target: the daemon the SMTP fuzzer attacks, and what watches it.
 * The real daemon (`postrider start-fg`, through the test helper) on a
 * temporary configuration with two listeners (relay; and AUTH enabled, TLS
 * offered on both with a certificate made here), relaying everything
 * (mydestination empty) to a bench sink that records, for every message it
 * takes, the queue id of Postrider's Received header, the original queue id
 * of a failure notice (X-Postrider-Queue-ID with Action: failed) and the
 * X-Fuzz-Token. It also gives the restart counters per actor (control
 * socket, the data of `postrider status --json`), a fresh probe session,
 * the daemon's new log lines, and the queue's size.
 *
 * The configuration has lookup tables in every place a client's input meets
 * a regular expression (check_helo/sender/recipient_access, header_checks,
 * body_checks), with patterns that backtrack exponentially on a run of
 * "a"s that fails to match, as Postfix users write them; none matches
 * ordinary mail, so they change nothing unless a check runs away (then a
 * thread stalls, which the fuzzer reports). The fuzz configuration differs
 * from the defaults where the defaults would only slow the fuzzer down or
 * stop it: smtpd_error_sleep_time = 0s (the
 * tarpit would make every bad session last seconds), a small
 * smtpd_recipient_limit and message_size_limit (so going over them is
 * cheap), supervisor_restart_limit = 1000 (so a crash found does not end
 * the campaign; every restart is still counted and reported).
 */
import { mkdtempSync, openSync, readFileSync, readSync, closeSync, fstatSync, writeFileSync, rmSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { controlRequest } from '../../src/cli/control-client.js';
import { startDaemon, freePort, runCli, type RunningDaemon } from '../../test/helpers/daemon.js';
import { makeTestCert } from '../../test/helpers/tls-cert.js';
import { startBenchSink, type BenchSink, type BenchSinkMessage } from '../harness/bench-sink.js';
import { FUZZ_TOKEN_HEADER } from './smtp-fuzz-grammar.js';
import { ReplyReader } from './smtp-fuzz-reply.js';

/** The fuzz target's limits, which the grammar aims at. */
export interface TargetLimits {
  recipientLimit: number;
  messageSizeLimit: number;
}

export const DEFAULT_LIMITS: TargetLimits = { recipientLimit: 20, messageSizeLimit: 262_144 };
export const AUTH_USER = 'fuzz@fuzz-src.test';

/** The tables: nested quantifiers a backtracking engine takes 2^n steps over on n "a"s and no match. */
const TABLES: Record<string, string> = {
  'helo_access.regexp': '/^(a|aa)+$/ REJECT fuzz: never for a real name\n',
  'sender_access.regexp': '/^(a+)+$/ REJECT fuzz: never for a real address\n/^([a-z0-9]+\\.?)+@never\\.invalid$/ REJECT fuzz\n',
  'recipient_access.regexp': '/^(a+)+b@/ REJECT fuzz: never for a real address\n',
  'header_checks.regexp': '/^Subject: (a+)+b$/ REJECT fuzz: never for a real subject\n',
  'body_checks.regexp': '/^(a+)+b$/ REJECT fuzz: never for a real line\n',
};
export const AUTH_SECRET = 'fuzz-secret';

/** What the sink saw, keyed by Postrider queue id. */
export interface SinkLedger {
  /** Queue id (from Postrider's Received header) -> copies taken. */
  delivered: Map<string, number>;
  /** Original queue ids named by a failure notice. */
  bounced: Set<string>;
  /** Queue ids of the notices themselves (not mail anyone sent). */
  notices: Set<string>;
  /** Token -> queue ids it arrived under (delivered or in a notice). */
  tokens: Map<string, Set<string>>;
  messages: number;
}

export interface FuzzTarget {
  host: string;
  ports: { relay: number; auth: number };
  limits: TargetLimits;
  daemon: RunningDaemon;
  sink: BenchSink;
  ledger: SinkLedger;
  /** Restarts per actor ("smtpd[1]" -> n); undefined when the control socket does not answer. */
  restarts(timeoutMs?: number): Promise<Map<string, number> | undefined>;
  /** Messages in the queue (every state); undefined when the control socket does not answer. */
  queued(): Promise<number | undefined>;
  /** A fresh session (greeting, EHLO, QUIT) within `timeoutMs`; resolves a failure reason or undefined. */
  probe(timeoutMs: number): Promise<string | undefined>;
  /** Log lines written since the last call. */
  newLogLines(): string[];
  /** The whole log's lines about each of these queue ids ("ID: ..."). */
  logAbout(ids: Iterable<string>): Map<string, string[]>;
  /** True while the daemon process runs. */
  alive(): boolean;
  /** Starts the daemon again after it exited (same configuration and queue). */
  restart(): Promise<void>;
  stop(): Promise<void>;
}

const RECEIVED_ID = /\(Postrider\) with \S+ id ([0-9A-Za-z]+)/;
const NOTICE_ID = /^X-Postrider-Queue-ID: ([0-9A-Za-z]+)/m;
const TOKEN = new RegExp(`^${FUZZ_TOKEN_HEADER}: (\\S+)`, 'mi');

/** Files what one message at the sink tells about the queue ids it stands for. */
export function recordArrival(ledger: SinkLedger, m: Pick<BenchSinkMessage, 'from' | 'data'>): void {
  ledger.messages++;
  const text = m.data.toString('latin1');
  const headerEnd = text.indexOf('\r\n\r\n');
  const head = headerEnd < 0 ? text : text.slice(0, headerEnd);
  // Postrider's Received header is the first header (unfolded for the match)
  const firstReceived = /^Received:[^\r\n]*(?:\r\n[ \t][^\r\n]*)*/m.exec(head)?.[0].replace(/\r\n[ \t]/g, ' ');
  const ids: string[] = [];
  const rid = firstReceived ? RECEIVED_ID.exec(firstReceived)?.[1] : undefined;
  const nid = m.from === '' ? NOTICE_ID.exec(text)?.[1] : undefined;
  if (nid) {
    // a notice is submitted locally: its Received header names no protocol
    const own = firstReceived ? / id ([0-9A-Za-z]+)/.exec(firstReceived)?.[1] : undefined;
    if (own) ledger.notices.add(own);
    if (/^Action: failed/m.test(text)) {
      ledger.bounced.add(nid);
      ids.push(nid);
    }
  } else if (rid) {
    ledger.delivered.set(rid, (ledger.delivered.get(rid) ?? 0) + 1);
    ids.push(rid);
  }
  const token = TOKEN.exec(text)?.[1];
  if (token) {
    const set = ledger.tokens.get(token) ?? new Set<string>();
    for (const id of ids) set.add(id);
    ledger.tokens.set(token, set);
  }
}

/** Starts the sink and the daemon; see the file comment. */
export async function startFuzzTarget(limits: TargetLimits = DEFAULT_LIMITS, extraParams: Record<string, string> = {}): Promise<FuzzTarget> {
  const ledger: SinkLedger = { delivered: new Map(), bounced: new Set(), notices: new Set(), tokens: new Map(), messages: 0 };
  const sink = await startBenchSink({ hostname: 'sink.fuzz.test' });
  sink.onMessage = (m) => recordArrival(ledger, m);
  const cert = makeTestCert('localhost');
  const saslDir = mkdtempSync(join(tmpdir(), 'postrider-fuzz-tables-'));
  const table = join(saslDir, 'sasl_passwd');
  for (const [name, text] of Object.entries(TABLES)) writeFileSync(join(saslDir, name), text);
  const regexp = (name: string): string => `regexp:${join(saslDir, name)}`;
  writeFileSync(table, '');
  const added = await runCli(saslDir, ['saslpasswd', table, AUTH_USER], `${AUTH_SECRET}\n`);
  if (added.code !== 0) throw new Error(`saslpasswd: ${added.stderr.trim()}`);
  const authPort = await freePort();
  let daemon: RunningDaemon;
  try {
    daemon = await startDaemon({
      params: {
        relayhost: `[127.0.0.1]:${sink.port}`,
        mydestination: '',
        smtpd_tls_cert_file: cert.certFile,
        smtpd_tls_key_file: cert.keyFile,
        smtpd_tls_security_level: 'may',
        smtpd_sasl_password_maps: `texthash:${table}`,
        smtpd_recipient_limit: String(limits.recipientLimit),
        message_size_limit: String(limits.messageSizeLimit),
        smtpd_error_sleep_time: '0s',
        supervisor_restart_limit: '1000',
        default_destination_concurrency_limit: '10',
        smtpd_helo_restrictions: `check_helo_access ${regexp('helo_access.regexp')}`,
        smtpd_sender_restrictions: `check_sender_access ${regexp('sender_access.regexp')}`,
        smtpd_recipient_restrictions: `check_recipient_access ${regexp('recipient_access.regexp')}`,
        header_checks: regexp('header_checks.regexp'),
        body_checks: regexp('body_checks.regexp'),
        ...extraParams,
      },
      masterExtra: [
        `127.0.0.1:${authPort} inet n - n - - smtpd`,
        '  -o smtpd_sasl_auth_enable=yes',
        '  -o smtpd_tls_auth_only=no',
      ],
    });
  } catch (err) {
    await sink.close();
    throw err;
  }
  let logOffset = 0;
  let logRest = '';
  const target: FuzzTarget = {
    host: '127.0.0.1',
    ports: { relay: daemon.port, auth: authPort },
    limits,
    daemon,
    sink,
    ledger,
    restarts: async (timeoutMs = 10_000) => {
      try {
        const status = (await controlRequest(daemon.queueDir, 'status', [], undefined, { timeoutMs })) as { actors: Array<{ role: string; instance: number; restarts: number }> };
        return new Map(status.actors.map((a) => [`${a.role}[${a.instance}]`, a.restarts]));
      } catch {
        return undefined;
      }
    },
    queued: async () => {
      try {
        const status = (await controlRequest(daemon.queueDir, 'status', [], undefined, { timeoutMs: 10_000 })) as { queue: { total: number } };
        return status.queue.total;
      } catch {
        return undefined;
      }
    },
    probe: (timeoutMs) => probeSession(target.host, target.ports.relay, timeoutMs),
    newLogLines: () => {
      let fd: number;
      try {
        fd = openSync(daemon.logFile, 'r');
      } catch {
        return [];
      }
      try {
        const size = fstatSync(fd).size;
        if (size < logOffset) logOffset = 0;
        const buf = Buffer.alloc(size - logOffset);
        readSync(fd, buf, 0, buf.length, logOffset);
        logOffset = size;
        const text = logRest + buf.toString('utf8');
        const lines = text.split('\n');
        logRest = lines.pop() ?? '';
        return lines;
      } finally {
        closeSync(fd);
      }
    },
    logAbout: (ids) => {
      const want = new Map<string, string[]>();
      for (const id of ids) want.set(id, []);
      let text = '';
      try {
        text = readFileSync(daemon.logFile, 'utf8');
      } catch {
        return want;
      }
      for (const line of text.split('\n')) {
        const m = /: ([0-9A-Za-z]+): /.exec(line);
        const list = m ? want.get(m[1]) : undefined;
        if (list) list.push(line.replace(/^.*?postrider\//, ''));
      }
      return want;
    },
    alive: () => daemon.child.exitCode === null && daemon.child.signalCode === null,
    restart: () => daemon.restart(),
    stop: async () => {
      await daemon.stop();
      await sink.close();
      rmSync(daemon.dir, { recursive: true, force: true });
      rmSync(saslDir, { recursive: true, force: true });
    },
  };
  return target;
}

/** Greeting, EHLO and QUIT on a fresh connection; a failure reason, or undefined when all came in time. */
export function probeSession(host: string, port: number, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    const reader = new ReplyReader();
    const sock = connect({ host, port });
    let stage = 'connect';
    let settled = false;
    const done = (why: string | undefined): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      sock.destroy();
      resolve(why);
    };
    const timer = setTimeout(() => done(`no answer to a fresh session within ${timeoutMs} ms (at ${stage})`), timeoutMs);
    sock.on('error', (err) => done(`probe ${stage}: ${err.message}`));
    sock.on('close', () => done(stage === 'done' ? undefined : `probe: connection closed at ${stage}`));
    sock.on('data', (chunk: Buffer) => {
      reader.feed(chunk);
      let r;
      while ((r = reader.take())) {
        if (stage === 'connect') {
          if (r.code !== 220) return done(`probe greeting: ${r.code} ${r.lines[0] ?? ''}`);
          stage = 'ehlo';
          sock.write('EHLO probe.fuzz.test\r\n');
        } else if (stage === 'ehlo') {
          if (r.code !== 250) return done(`probe EHLO: ${r.code} ${r.lines[0] ?? ''}`);
          stage = 'quit';
          sock.write('QUIT\r\n');
        } else if (stage === 'quit') {
          stage = 'done';
          return done(r.code === 221 ? undefined : `probe QUIT: ${r.code} ${r.lines[0] ?? ''}`);
        }
      }
    });
  });
}
