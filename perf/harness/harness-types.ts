/**
 * harness-types: what the benchmark harness's parts exchange. The load
 * generator (smtp-source) sends messages that each carry a unique token in
 * a header; the sink (bench-sink) counts the tokens it receives; the
 * end-to-end run compares the two to find lost and duplicated messages, and
 * adds the MTA's CPU time and peak memory (process-usage).
 */

/** The header that carries a message's token: `X-Bench-Token: RUNID.N`. */
export const TOKEN_HEADER = 'X-Bench-Token';

/** Where an SMTP exchange stood when a reply or an error came. */
export type SmtpStage = 'connect' | 'helo' | 'starttls' | 'mail' | 'rcpt' | 'data' | 'dot';

/** What the load generator is asked to do (Postfix's smtp-source, in options). */
export interface SourceOptions {
  host: string;
  port: number;
  /** Messages in all (smtp-source -m). */
  count: number;
  /** Parallel SMTP sessions (smtp-source -s). */
  sessions: number;
  /** Bytes of each message, headers included (smtp-source -l). */
  size: number;
  /** Recipients per message (smtp-source -r); default 1. */
  recipients?: number;
  /** Give every recipient of every message its own address (`N.R.` before the local part of `to`). */
  uniqueRecipients?: boolean;
  /** Messages per connection before QUIT and a new connection: 1 = one per connection (smtp-source -d); 0 or absent = as many as it gets. */
  messagesPerConnection?: number;
  /** Envelope sender; default `source@bench.test`. */
  from?: string;
  /** Recipient address; default `sink@bench.test`. */
  to?: string;
  /** EHLO name; default `source.bench.test`. */
  helo?: string;
  /** Issue STARTTLS after EHLO (certificates are not checked: a benchmark, not a trust decision). */
  starttls?: boolean;
  /** Token prefix, unique per run; default a random one. */
  runId?: string;
  /** Called about every 250 ms while it runs. */
  onProgress?: (p: SourceProgress) => void;
  /** Give up on a reply after this long; default 60 s. */
  replyTimeoutMs?: number;
  /**
   * Offered load in messages per second over all sessions (open loop):
   * message N is not started before N / rate seconds into the run, so the
   * 250's latency is measured at a chosen load instead of at saturation.
   * Absent: as fast as the server answers (closed loop).
   */
  rate?: number;
}

export interface SourceProgress {
  sent: number;
  accepted: number;
  errors: number;
  elapsedMs: number;
}

/** A message the server took (250 after the final dot). */
export interface SourceAccept {
  token: string;
  /** ms from the start of the run to the 250. */
  at: number;
  /** ms from MAIL FROM to the 250. */
  latencyMs: number;
}

/** A reply that was not what the generator wanted, or a connection failure ("000 ..."). */
export interface SourceError {
  /** The message concerned, when there was one. */
  token?: string;
  stage: SmtpStage;
  /** The server's reply line, or "000 " and the socket error. */
  reply: string;
  /** ms from the start of the run. */
  at: number;
}

export interface SourceResult {
  runId: string;
  /** Epoch ms at the start. */
  startedAt: number;
  /** ms from the start to the last reply. */
  elapsedMs: number;
  /** One entry per message taken, in the order of the 250s. */
  accepted: SourceAccept[];
  errors: SourceError[];
  /** Connections opened. */
  connections: number;
}

/** A scripted reply of the sink: at `stage`, answer `reply` instead of accepting. */
export interface SinkRule {
  stage: Exclude<SmtpStage, 'starttls'>;
  /** A whole reply line such as "450 4.2.0 Mailbox busy"; a 421 closes the connection after it. */
  reply: string;
  /** Only every Nth command at that stage (1st-based: N, 2N, ...); default 1 = every one. */
  every?: number;
}

export interface SinkOptions {
  host?: string;
  /** 0 or absent: a free port. */
  port?: number;
  /** The banner and EHLO name; default `sink.bench.test`. */
  hostname?: string;
  /** Messages expected; `whenAll()` resolves once that many have arrived. */
  expect?: number;
  /** Keep every message as a file in this directory (named after its token, or a counter). */
  storeDir?: string;
  rules?: SinkRule[];
  /** Offer STARTTLS with this certificate and key (PEM). */
  tls?: { cert: Buffer | string; key: Buffer | string };
}

/** What the sink saw. */
export interface SinkStats {
  connections: number;
  /** Messages taken (250 after the dot). */
  messages: number;
  recipients: number;
  /** Message bytes taken (dot-unstuffed). */
  bytes: number;
  /** Replies given by the rules, by stage and code, e.g. { 'rcpt 450': 12 }. */
  scripted: Record<string, number>;
  /** ms (performance.now()) of the first and last message taken; undefined before any. */
  firstAt?: number;
  lastAt?: number;
}

/** Lost and duplicated messages, by token, between a generator and a sink. */
export interface TokenAccount {
  /** Messages the generator had a 250 for. */
  accepted: number;
  /** Distinct accepted tokens the sink received. */
  delivered: number;
  /** Accepted tokens the sink never saw. */
  lost: string[];
  /** Tokens the sink saw more than once (each listed once). */
  duplicated: string[];
  /** Tokens the sink saw that the generator never had a 250 for (a 4xx after the data was sent, say). */
  unexpected: string[];
}

/** CPU and memory of a process tree over a run. */
export interface ProcessUsage {
  /** User + system CPU seconds used during the run, by every process of the tree (reaped children included). */
  cpuSeconds: number;
  /** The largest sum of resident memory of the tree seen while sampling, in bytes. */
  peakRssBytes: number;
  /**
   * The largest sum of proportional set size (shared pages divided among the
   * processes sharing them), when asked for: the fair figure for an MTA of
   * many processes, whose RSS sum counts shared libraries once per process.
   */
  peakPssBytes?: number;
  /** Processes in the tree at the last sample. */
  processes: number;
}
