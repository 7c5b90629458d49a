/**
 * cli-sendmail: `postrider sendmail`, Postfix's sendmail(1) compatibility
 * command. Reads one message from standard input and drops it, with its
 * envelope, as one file in $queue_directory/maildrop (global/maildrop-file), from
 * where the pickup service submits it; so it works while the daemon is down.
 *
 * Options (Postfix's): -t (recipients from To:/Cc:/Bcc:, or from the
 * Resent- forms when present, added to the command line's), -i / -oi (a lone
 * "." does not end input), -f / -r sender ("<>" is the null sender),
 * -F full name (in the From: header cleanup adds: "Full Name <sender>"),
 * -N notify (DSN NOTIFY), -R full|hdrs, -V envid, -B 8BITMIME|7BIT (the
 * body type, passed on as SMTP's BODY=), -C config. Modes, as Postfix's:
 * -bm (the default), -bs (SMTP on standard input and output, each message
 * into the maildrop: cli-sendmail-smtp), -bp (the queue listing, as
 * `postrider queue`), -q (flush the queue, as `postrider flush`; -qRsite one
 * site; -q with a time, e.g. -q30m, does nothing), -bh / -bH (nothing); -bi / -I are newaliases (main.ts).
 * -bd starts the mail system as `postrider start` does (exit 1 with its
 * reason when that fails, e.g. a daemon already runs), as Postfix's runs
 * `postfix start`. -bv collects no message: it queues an empty one for
 * the listed recipients, flagged verify-only ("v" in the maildrop file),
 * so nothing is delivered and the sender is mailed a Mail Delivery Status
 * Report on each recipient; it prints where the report goes, as Postfix's
 * does. Refused with exit 64 and one line: -qI, -n. Other Postfix options are
 * accepted and ignored. Bare names are qualified with @$myorigin; the default
 * sender is the login name. LF line ends become CRLF; a leading mbox
 * "From " line is dropped; Bcc: and Resent-Bcc: header lines are always
 * removed, so blind recipients stay blind.
 *
 * Errors: one line "postrider/sendmail: fatal: reason" on standard error and
 * sendmail's exit codes: 64 (EX_USAGE: bad option, no recipients), 65
 * (EX_DATAERR: message over message_size_limit), 75 (EX_TEMPFAIL: queue
 * not writable, configuration unreadable). Exit 0 once the file is durable.
 */
import addressparser from 'nodemailer/lib/addressparser';
import { userInfo } from 'node:os';
import { basename, dirname } from 'node:path';
import { loadConfig, mainConfigOf } from '../config/load-config.js';
import type { MainConfig } from '../config/main-config.js';
import { withParameterDefaults } from '../config/parameter-defaults.js';
import type { DsnNotify, RecipientSpec } from '../store/store-types.js';
import {
  encodeMaildropFile,
  ensureMaildrop,
  writeMaildropFile,
  type MaildropEnvelope,
} from '../global/maildrop-file.js';

export const EX_OK = 0;
export const EX_USAGE = 64;
export const EX_DATAERR = 65;
export const EX_TEMPFAIL = 75;

export interface SendmailIo {
  /** The configuration directory (from -c, $POSTRIDER_CONFIG or ./etc). */
  configDir: string;
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
  stderr: NodeJS.WritableStream;
  /** An already loaded configuration; when absent it is loaded from configDir. */
  config?: MainConfig;
}

/** A failure that ends the command with a one-line reason and an exit code. */
export class SendmailError extends Error {
  constructor(
    message: string,
    readonly exitCode: number,
    readonly code = exitCode === EX_USAGE ? 'ERR_SENDMAIL_USAGE' : exitCode === EX_DATAERR ? 'ERR_SENDMAIL_DATA' : 'ERR_SENDMAIL_TEMPFAIL',
  ) {
    super(message);
  }
}

/** Options of Postfix's sendmail that take an argument. */
const WITH_ARGUMENT = new Set('ABCFLNOQRVXbefhopqr'.split(''));
/** Options accepted as flags. */
const FLAGS = new Set('GIUcimntvx'.split(''));

/** What the command does (Postfix's sendmail modes). */
export type SendmailMode = 'enqueue' | 'mailq' | 'flush' | 'daemon' | 'newaliases' | 'stand-alone' | 'verify' | 'ignore';

export interface SendmailOptions {
  mode: SendmailMode;
  extract: boolean;
  dotIsData: boolean;
  /** -B: the body type. */
  bodyType?: '7BIT' | '8BITMIME';
  /** -qRsite: flush one site. */
  flushSite?: string;
  /** -q with a time (-q30m): a queue run interval, which sendmail ignores as Postfix's does. */
  queueTime?: string;
  sender?: string;
  fullName?: string;
  notify?: DsnNotify[];
  ret?: 'FULL' | 'HDRS';
  envid?: string;
  configDir?: string;
  recipients: string[];
}

function usage(why: string): never {
  throw new SendmailError(why, EX_USAGE);
}

/** Parses sendmail's command line (getopt rules: clustered flags, "-fvalue" or "-f value", "--"). */
export function parseSendmailArgs(argv: string[]): SendmailOptions {
  const o: SendmailOptions = { mode: 'enqueue', extract: false, dotIsData: false, recipients: [] };
  let i = 0;
  for (; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--') {
      i++;
      break;
    }
    // A bare -q is not getopt syntax (its argument is optional): flush the queue.
    if (arg === '-q') {
      if (o.mode !== 'daemon') o.mode = 'flush';
      continue;
    }
    if (!arg.startsWith('-') || arg === '-') break;
    for (let j = 1; j < arg.length; j++) {
      const opt = arg[j];
      if (FLAGS.has(opt)) {
        if (opt === 't') o.extract = true;
        if (opt === 'i') o.dotIsData = true;
        if (opt === 'I') o.mode = 'newaliases';
        if (opt === 'n') usage('-n option not supported');
        continue;
      }
      if (!WITH_ARGUMENT.has(opt)) usage(`usage: sendmail [-t] [-i] [-f sender] [-F fullname] [recipient ...]: unknown option -${opt}`);
      let value = arg.slice(j + 1);
      if (value === '') {
        if (i + 1 >= argv.length) usage(`option -${opt} requires an argument`);
        value = argv[++i];
      }
      applyOption(o, opt, value);
      break;
    }
  }
  o.recipients.push(...argv.slice(i));
  if (o.extract && o.mode !== 'enqueue') usage('-t can be used only in delivery mode');
  if (o.flushSite !== undefined && o.mode !== 'enqueue') usage('-qR can be used only in delivery mode');
  if (o.mode === 'verify' && o.extract) usage('-t option cannot be used with -bv');
  if (o.mode === 'verify' && o.notify) usage('-N option cannot be used with -bv');
  return o;
}

function applyOption(o: SendmailOptions, opt: string, value: string): void {
  switch (opt) {
    case 'f':
    case 'r':
      o.sender = value;
      return;
    case 'F':
      o.fullName = value;
      return;
    case 'C':
      o.configDir = basename(value) === 'main.cf' ? dirname(value) : value;
      return;
    case 'o':
      // -oi is -i; Postfix ignores every other -o option (-om, -oem, -odb, ...).
      if (value === 'i') o.dotIsData = true;
      return;
    case 'b': {
      const modes: Record<string, SendmailMode> = {
        d: 'daemon', h: 'ignore', H: 'ignore', i: 'newaliases', m: 'enqueue', p: 'mailq', s: 'stand-alone', v: 'verify',
      };
      const mode = modes[value[0] ?? ''];
      if (!mode) usage(`unsupported: -b${value[0] ?? ''}`);
      o.mode = mode;
      return;
    }
    case 'B': {
      const v = value.toUpperCase();
      if (v !== '8BITMIME' && v !== '7BIT') usage('-B option needs 8BITMIME or 7BIT');
      o.bodyType = v;
      return;
    }
    case 'q':
      if (/^\d/.test(value)) o.queueTime = value;
      else if (value[0] === 'R') {
        if (value.length === 1) usage('specify: -qRsitename');
        o.flushSite = value.slice(1);
      } else if (value[0] === 'I') usage('-qI: flushing one queue id is not supported; use "postrider queue requeue ID"');
      else usage(`-q${value[0]} is not implemented`);
      return;
    case 'N':
      o.notify = parseNotify(value);
      return;
    case 'R': {
      const v = value.toUpperCase();
      if (v !== 'FULL' && v !== 'HDRS') usage(`-R ${value}: expected full or hdrs`);
      o.ret = v;
      return;
    }
    case 'V':
      if (!/^[\x21-\x7e]{1,100}$/.test(value)) usage(`-V: bad envelope id`);
      o.envid = value;
      return;
    default:
      // -A, -L, -O, -Q, -X, -e, -h, -p: accepted and ignored, as Postfix does.
      return;
  }
}

function parseNotify(value: string): DsnNotify[] {
  const words = value.split(',').map((w) => w.trim().toUpperCase()).filter(Boolean);
  const ok = new Set(['SUCCESS', 'FAILURE', 'DELAY', 'NEVER']);
  if (words.length === 0 || !words.every((w) => ok.has(w))) usage(`-N ${value}: expected never or success,delay,failure`);
  if (words.includes('NEVER') && words.length > 1) usage(`-N ${value}: never cannot be combined`);
  return words as DsnNotify[];
}

/**
 * Reads the message text into CRLF lines: drops a leading "From " line,
 * stops at a lone "." unless `dotIsData`, and caps the size.
 */
export function normaliseMessage(raw: Buffer, dotIsData: boolean): Buffer {
  const text = raw.toString('latin1');
  const lines = text.split('\n');
  // split() leaves "" after a final newline; a missing final newline still ends the last line.
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const out: string[] = [];
  for (let n = 0; n < lines.length; n++) {
    const line = lines[n].endsWith('\r') ? lines[n].slice(0, -1) : lines[n];
    if (n === 0 && line.startsWith('From ')) continue;
    if (!dotIsData && line === '.') break;
    out.push(line);
  }
  // latin1 round-trips every byte, so 8-bit text passes unchanged.
  return Buffer.from(out.length ? out.join('\r\n') + '\r\n' : '', 'latin1');
}

const RECIPIENT_HEADERS = ['to', 'cc', 'bcc'];
const RESENT_HEADERS = ['resent-to', 'resent-cc', 'resent-bcc'];

/**
 * Takes the header section apart: the addresses in To/Cc/Bcc (or the
 * Resent- forms, when any Resent- header is present) and the message
 * without its Bcc: and Resent-Bcc: lines.
 */
export function extractHeaderRecipients(content: Buffer): { addresses: string[]; content: Buffer } {
  const text = content.toString('latin1');
  const end = text.startsWith('\r\n') ? 0 : text.indexOf('\r\n\r\n');
  const headerEnd = end < 0 ? text.length : end + 2;
  const headerText = text.slice(0, headerEnd);
  const fields: Array<{ name: string; raw: string }> = [];
  for (const line of headerText.split('\r\n')) {
    if (line === '') continue;
    if ((line.startsWith(' ') || line.startsWith('\t')) && fields.length > 0) {
      fields[fields.length - 1].raw += '\r\n' + line;
      continue;
    }
    const colon = line.indexOf(':');
    fields.push({ name: colon > 0 ? line.slice(0, colon).trim().toLowerCase() : '', raw: line });
  }
  const resent = fields.some((f) => f.name.startsWith('resent-'));
  const wanted = resent ? RESENT_HEADERS : RECIPIENT_HEADERS;
  const addresses: string[] = [];
  for (const f of fields) {
    if (!wanted.includes(f.name)) continue;
    const value = f.raw.slice(f.raw.indexOf(':') + 1).replace(/\r\n/g, ' ');
    addresses.push(...parseAddressList(value));
  }
  const kept = fields.filter((f) => f.name !== 'bcc' && f.name !== 'resent-bcc').map((f) => f.raw + '\r\n');
  const rebuilt = kept.join('') + text.slice(headerEnd);
  return { addresses, content: Buffer.from(rebuilt, 'latin1') };
}

/** The addresses in an RFC 5322 address list (groups flattened); a bare word counts as an address. */
export function parseAddressList(value: string): string[] {
  const out: string[] = [];
  for (const a of addressparser(value, { flatten: true })) {
    const addr = a.address || (/^[^\s@<>(),;:"]+$/.test(a.name) ? a.name : '');
    if (addr) out.push(addr);
  }
  return out;
}

function qualify(address: string, myorigin: string): string {
  if (address === '' || address.includes('@')) return address;
  return `${address}@${myorigin}`;
}

/** Strips one pair of angle brackets: "<a@b>" -> "a@b", "<>" -> "". */
function unbracket(address: string): string {
  const a = address.trim();
  return a.startsWith('<') && a.endsWith('>') ? a.slice(1, -1).trim() : a;
}

/** The submitting user's login name, for the default sender. */
function loginName(): string {
  try {
    const name = userInfo().username;
    if (name) return name;
  } catch {
    // No password entry for this uid (common in containers): fall back to the environment.
  }
  const env = process.env.LOGNAME || process.env.USER;
  if (env && /^[A-Za-z0-9._-]+$/.test(env)) return env;
  const uid = typeof process.getuid === 'function' ? process.getuid() : -1;
  throw new SendmailError(`no login name found for user ID ${uid}`, EX_TEMPFAIL);
}

function describe(err: unknown): string {
  const e = err as NodeJS.ErrnoException;
  if (e && typeof e.message === 'string') {
    const m = /^[A-Z]+: ([^,]+),/.exec(e.message);
    return m ? m[1] : e.message;
  }
  return String(err);
}

async function readAll(stream: NodeJS.ReadableStream, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
    size += b.length;
    // A margin over the limit: LF -> CRLF and the dot rule change the size afterwards.
    if (limit > 0 && size > limit * 2 + 65536) throw new SendmailError('message file too big', EX_DATAERR);
    chunks.push(b);
  }
  return Buffer.concat(chunks);
}

/**
 * Loads main.cf. An error in main.cf is fatal, as it is for Postfix's
 * sendmail; master.cf does not matter to this command.
 */
function loadMainConfig(dir: string): MainConfig {
  let loaded;
  try {
    loaded = loadConfig(dir);
  } catch (err) {
    throw new SendmailError(`cannot read configuration in ${dir}: ${describe(err)}`, EX_TEMPFAIL);
  }
  const problem = loaded.problems.find((p) => p.severity === 'error' && basename(p.file) === 'main.cf');
  if (problem) {
    const where = problem.line > 0 ? `${problem.file}:${problem.line}` : problem.file;
    throw new SendmailError(`${where}: ${problem.message}`, EX_TEMPFAIL);
  }
  return mainConfigOf(loaded);
}

/**
 * Runs `postrider sendmail ARGS`: reads standard input, writes the maildrop
 * file, and resolves with the exit code (0, or 64/65/75 after printing one
 * "postrider/sendmail: fatal: ..." line). Never rejects.
 */
export async function runSendmail(argv: string[], io: SendmailIo): Promise<number> {
  try {
    await sendmail(argv, io);
    return EX_OK;
  } catch (err) {
    const code = err instanceof SendmailError ? err.exitCode : EX_TEMPFAIL;
    const text = err instanceof SendmailError ? err.message : describe(err);
    io.stderr.write(`postrider/sendmail: fatal: ${text.replace(/[\r\n]+/g, ' ')}\n`);
    return code;
  }
}

async function sendmail(argv: string[], io: SendmailIo): Promise<void> {
  const opts = parseSendmailArgs(argv);
  const verify = opts.mode === 'verify';
  if ((opts.mode !== 'enqueue' && !verify) || opts.flushSite !== undefined || opts.queueTime !== undefined) {
    await otherMode(opts, io);
    return;
  }
  if (!opts.extract && opts.recipients.length === 0) {
    usage('Recipient addresses must be specified on the command line or via the -t option');
  }
  const config = io.config && !opts.configDir ? io.config : loadMainConfig(opts.configDir ?? io.configDir);
  const queueDir = config.path('queue_directory');
  if (!queueDir) throw new SendmailError('queue_directory is not set', EX_TEMPFAIL);
  const myorigin = config.get('myorigin').trim() || config.get('myhostname').trim() || 'localhost';
  // The parameter table's default when unset or empty; a malformed value is fatal, as in Postfix.
  const sizeLimit = withParameterDefaults(config, ['message_size_limit']).int('message_size_limit');

  // -bv: "Do not collect or deliver a message" (sendmail(1)); cleanup adds the headers.
  const raw = verify ? Buffer.alloc(0) : await readAll(io.stdin, sizeLimit);
  let content = normaliseMessage(raw, opts.dotIsData);
  const extracted = extractHeaderRecipients(content);
  content = extracted.content;
  if (sizeLimit > 0 && content.length > sizeLimit) throw new SendmailError('message file too big', EX_DATAERR);

  const listed = opts.recipients.flatMap(parseAddressList);
  const all = [...listed, ...(opts.extract ? extracted.addresses : [])].map((a) => qualify(a, myorigin));
  const seen = new Set<string>();
  const recipients: RecipientSpec[] = [];
  for (const address of all) {
    const key = address.toLowerCase();
    if (seen.has(key)) continue;
    seen.add(key);
    recipients.push(opts.notify ? { address, notify: opts.notify } : { address });
  }
  if (recipients.length === 0) usage('No recipient addresses found in message header');

  const sender = qualify(opts.sender !== undefined ? unbracket(opts.sender) : loginName(), myorigin);
  if (/[\x00-\x1f\x7f<>]/.test(sender)) usage(`bad sender address: ${JSON.stringify(sender)}`);
  const envelope: MaildropEnvelope = {
    sender,
    recipients,
    arrivalTime: Date.now(),
    uid: typeof process.getuid === 'function' ? process.getuid() : 0,
    flags: [...(opts.extract ? ['t'] : []), ...(opts.dotIsData ? ['i'] : []), ...(verify ? ['v'] : [])],
  };
  if (opts.fullName !== undefined) envelope.fullName = opts.fullName;
  if (opts.envid !== undefined) envelope.envid = opts.envid;
  if (opts.ret !== undefined) envelope.ret = opts.ret;
  if (opts.bodyType !== undefined) envelope.bodyType = opts.bodyType;

  let dir: string;
  try {
    dir = await ensureMaildrop(queueDir);
  } catch (err) {
    throw new SendmailError(`cannot create maildrop directory ${queueDir}/maildrop: ${describe(err)}`, EX_TEMPFAIL);
  }
  try {
    await writeMaildropFile(dir, encodeMaildropFile(envelope, content));
  } catch (err) {
    throw new SendmailError(`cannot write a file in ${dir}: ${describe(err)}`, EX_TEMPFAIL);
  }
  if (verify) io.stdout.write(`Mail Delivery Status Report will be mailed to <${sender}>.\n`);
}

export const EX_UNAVAILABLE = 69;

/** A mode that is not "read one message": each as Postfix's sendmail runs it. */
async function otherMode(opts: SendmailOptions, io: SendmailIo): Promise<void> {
  const dir = opts.configDir ?? io.configDir;
  const none = (what: string): void => {
    if (opts.recipients.length > 0) usage(`${what} requires no recipient`);
  };
  // -q30m: a queue run interval for a sendmail daemon; Postfix's sendmail exits at once.
  if (opts.queueTime !== undefined && opts.mode !== 'daemon') return;
  switch (opts.mode) {
    case 'ignore':
      return;
    case 'mailq': {
      none('display queue mode');
      const { queue } = await import('./cli-queue.js');
      await queue(dir, [], {});
      return;
    }
    case 'flush':
    case 'enqueue': {
      if (opts.mode === 'flush') none('flush queue mode');
      else none('flush site');
      const { flush } = await import('./cli-queue.js');
      const { ControlError } = await import('./control-client.js');
      try {
        await flush(dir, opts.flushSite !== undefined ? [opts.flushSite] : []);
      } catch (err) {
        if (err instanceof ControlError && err.code === 'ERR_NOT_RUNNING') {
          throw new SendmailError('Cannot flush mail queue - mail system is down', EX_UNAVAILABLE, 'ERR_SENDMAIL_UNAVAILABLE');
        }
        throw err;
      }
      return;
    }
    case 'daemon': {
      // Postfix's sendmail -bd runs "postfix start"; this is "postrider start", with its errors.
      none('daemon mode');
      const { start } = await import('./cli-start.js');
      try {
        await start(dir);
      } catch (err) {
        throw new SendmailError(describe(err), 1, 'ERR_SENDMAIL_START');
      }
      return;
    }
    case 'newaliases':
      none('alias initialization mode');
      {
        const { newaliases } = await import('./cli-newaliases.js');
        const code = await newaliases(dir);
        if (code !== 0) throw new SendmailError('newaliases failed', code);
      }
      return;
    case 'stand-alone': {
      none('stand-alone mode');
      const config = io.config && !opts.configDir ? io.config : loadMainConfig(dir);
      const queueDir = config.path('queue_directory');
      if (!queueDir) throw new SendmailError('queue_directory is not set', EX_TEMPFAIL);
      const filled = withParameterDefaults(config, ['message_size_limit', 'smtpd_banner', 'myhostname']);
      const { runStandaloneSmtp } = await import('./cli-sendmail-smtp.js');
      await runStandaloneSmtp(io, {
        queueDir,
        banner: filled.get('smtpd_banner'),
        myhostname: filled.get('myhostname'),
        myorigin: config.get('myorigin').trim() || filled.get('myhostname') || 'localhost',
        sizeLimit: filled.int('message_size_limit'),
        uid: typeof process.getuid === 'function' ? process.getuid() : 0,
      });
      return;
    }
  }
}
