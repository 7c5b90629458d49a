/**
 * smtp-fuzz-case: what one fuzzed SMTP session is made of, as plain data:
 * the steps a client sends (command lines, message content, BDAT chunks,
 * STARTTLS, slow writes, pauses), how it sends them (lock-step, RFC 2920
 * pipelined groups, or one blast split at random byte boundaries), and how
 * it ends (QUIT, close, reset, half-close, idle). A case is generated from
 * its seed (smtp-fuzz-grammar) and can be shrunk by dropping steps, so it is
 * kept as data that serialises to JSON (bytes as base64) for replay files.
 */

/** How the steps go on the wire. */
export type Transport = 'lockstep' | 'pipelined' | 'blast';

/** How the client leaves. */
export type Ending = 'quit' | 'close' | 'reset' | 'half-close' | 'idle';

export type StepKind = 'line' | 'data' | 'bdat' | 'starttls' | 'slow' | 'partial' | 'pause';

/** One thing the client does; see the file comment. */
export interface Step {
  kind: StepKind;
  /** The command verb, or a label ("garbage", "body"), for transcripts and failure signatures. */
  label: string;
  /** Bytes to send; for starttls the STARTTLS line plus any plaintext injected after it. */
  bytes: Buffer;
  /** Replies expected in command mode (one per LF); 'unknown' ends the count checks of the case. */
  replies: number | 'unknown';
  /** Message content (data, bdat): the X-Fuzz-Token and the unstuffed size in bytes. */
  token?: string;
  size?: number;
  /** MAIL/RCPT: the address holds 8-bit bytes; MAIL: SMTPUTF8 was declared. */
  eightBitAddress?: boolean;
  smtputf8?: boolean;
  /** MAIL/RCPT: carries an ESMTP parameter no server offers (Postfix: 555 5.5.4). */
  unknownParam?: boolean;
  /** A line Postfix's smtpd refuses, with Postfix's reply ("501 5.5.4 Syntax: DATA"). */
  postfixRefuses?: string;
  /** starttls: after a 220, upgrade, send garbage, or close (lock-step and pipelined only). */
  tls?: 'handshake' | 'garbage' | 'close';
  /** pause and slow: how long, in ms. */
  ms?: number;
}

/** One fuzzed session. */
export interface FuzzCase {
  /** The seed it was generated from (shrunk cases keep it). */
  seed: number;
  /** Which listener: the relay port, or the one with AUTH enabled. */
  listener: 'relay' | 'auth';
  transport: Transport;
  /** Send the first bytes before the greeting arrives. */
  early: boolean;
  steps: Step[];
  ending: Ending;
  /** Seed of the write splitting, so a shrunk case splits its remaining bytes the same way. */
  splitSeed: number;
}

/** JSON form of a case (bytes as base64), for replay files. */
export interface FuzzCaseJson extends Omit<FuzzCase, 'steps'> {
  steps: Array<Omit<Step, 'bytes'> & { bytes: string }>;
}

export function caseToJson(c: FuzzCase): FuzzCaseJson {
  return { ...c, steps: c.steps.map((s) => ({ ...s, bytes: s.bytes.toString('base64') })) };
}

export function caseFromJson(j: FuzzCaseJson): FuzzCase {
  return { ...j, steps: j.steps.map((s) => ({ ...s, bytes: Buffer.from(s.bytes, 'base64') })) };
}

/** Replies a run of bytes gets in command mode: one per LF. */
export function lineCount(bytes: Buffer): number {
  let n = 0;
  for (let i = bytes.indexOf(0x0a); i >= 0; i = bytes.indexOf(0x0a, i + 1)) n++;
  return n;
}

/** The total bytes a case sends. */
export function caseBytes(c: FuzzCase): number {
  return c.steps.reduce((n, s) => n + s.bytes.length, 0);
}
