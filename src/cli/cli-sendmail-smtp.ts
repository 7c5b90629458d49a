/**
 * cli-sendmail-smtp: `sendmail -bs`, SMTP on standard input and output, as
 * Postfix's sendmail runs smtpd in stand-alone mode. Each message a client
 * completes becomes one maildrop file (global/maildrop-file), from where
 * pickup queues it, so it works while the daemon is down; like Postfix's
 * stand-alone smtpd it applies no access policy (the user could run
 * `sendmail` directly) and relays nothing itself.
 *
 * runStandaloneSmtp(io, settings) speaks until QUIT or the end of input and
 * resolves when done; it never rejects for client input (bad commands get
 * Postfix's replies). A maildrop file that cannot be written gets
 * "451 4.3.0 Error: queue file write error" and the session goes on.
 */
import type { DsnNotify, RecipientSpec } from '../store/store-types.js';
import { encodeMaildropFile, ensureMaildrop, writeMaildropFile, type MaildropEnvelope } from '../global/maildrop-file.js';

export interface StandaloneSettings {
  queueDir: string;
  /** The greeting text after "220 ". */
  banner: string;
  myhostname: string;
  myorigin: string;
  /** message_size_limit (0: none). */
  sizeLimit: number;
  uid: number;
}

export interface StandaloneIo {
  stdin: NodeJS.ReadableStream;
  stdout: NodeJS.WritableStream;
}

/** Splits a byte stream into lines (without their CRLF or LF), as Buffers. */
async function* lines(stream: NodeJS.ReadableStream): AsyncGenerator<Buffer> {
  let pending: Buffer = Buffer.alloc(0);
  for await (const chunk of stream as AsyncIterable<Buffer | string>) {
    const b = typeof chunk === 'string' ? Buffer.from(chunk, 'latin1') : chunk;
    pending = pending.length === 0 ? b : Buffer.concat([pending, b]);
    let nl: number;
    while ((nl = pending.indexOf(0x0a)) >= 0) {
      const end = nl > 0 && pending[nl - 1] === 0x0d ? nl - 1 : nl;
      yield pending.subarray(0, end);
      pending = pending.subarray(nl + 1);
    }
  }
  if (pending.length > 0) yield pending;
}

/** "<a@b> PARAM=V ..." after "FROM:" or "TO:"; undefined on a syntax error. */
function parsePath(rest: string): { address: string; params: Map<string, string> } | undefined {
  const m = /^\s*<([^<>]*)>((?:\s+\S+)*)\s*$/.exec(rest) ?? /^\s*([^\s<>]+)((?:\s+\S+)*)\s*$/.exec(rest);
  if (!m) return undefined;
  const params = new Map<string, string>();
  for (const word of m[2].trim().split(/\s+/).filter(Boolean)) {
    const eq = word.indexOf('=');
    params.set((eq < 0 ? word : word.slice(0, eq)).toUpperCase(), eq < 0 ? '' : word.slice(eq + 1));
  }
  return { address: m[1].trim(), params };
}

function qualify(address: string, myorigin: string): string {
  return address === '' || address.includes('@') ? address : `${address}@${myorigin}`;
}

const NOTIFY = new Set(['SUCCESS', 'FAILURE', 'DELAY', 'NEVER']);

/** Runs one stand-alone SMTP session over `io`. */
export async function runStandaloneSmtp(io: StandaloneIo, s: StandaloneSettings): Promise<void> {
  const reply = (text: string): void => void io.stdout.write(text.replace(/\n/g, '\r\n') + '\r\n');
  let sender: string | undefined;
  let bodyType: '7BIT' | '8BITMIME' | undefined;
  let envid: string | undefined;
  let ret: 'FULL' | 'HDRS' | undefined;
  let recipients: RecipientSpec[] = [];
  const reset = (): void => {
    sender = undefined;
    bodyType = undefined;
    envid = undefined;
    ret = undefined;
    recipients = [];
  };
  reply(`220 ${s.banner}`);
  const input = lines(io.stdin);
  for (;;) {
    const next = await input.next();
    if (next.done) return;
    const line = next.value.toString('latin1');
    const verb = /^(\S*)/.exec(line)![1].toUpperCase();
    const arg = line.slice(verb.length).trim();
    switch (verb) {
      case 'HELO':
      case 'EHLO':
        if (!arg) {
          reply(`501 Syntax: ${verb} hostname`);
          break;
        }
        reset();
        if (verb === 'HELO') reply(`250 ${s.myhostname}`);
        else {
          const ext = ['PIPELINING', ...(s.sizeLimit > 0 ? [`SIZE ${s.sizeLimit}`] : ['SIZE']), '8BITMIME', 'ENHANCEDSTATUSCODES', 'DSN'];
          reply([s.myhostname, ...ext].map((t, i, all) => `250${i === all.length - 1 ? ' ' : '-'}${t}`).join('\n'));
        }
        break;
      case 'MAIL': {
        if (sender !== undefined) {
          reply('503 5.5.1 Error: nested MAIL command');
          break;
        }
        const m = /^FROM:(.*)$/i.exec(arg);
        const path = m ? parsePath(m[1]) : undefined;
        if (!path || /[\x00-\x1f\x7f]/.test(path.address)) {
          reply('501 5.5.4 Syntax: MAIL FROM:<address>');
          break;
        }
        let bad: string | undefined;
        for (const [name, value] of path.params) {
          if (name === 'SIZE' && /^\d+$/.test(value)) {
            if (s.sizeLimit > 0 && Number(value) > s.sizeLimit) bad = '552 5.3.4 Message size exceeds fixed limit';
          } else if (name === 'BODY' && (value.toUpperCase() === '8BITMIME' || value.toUpperCase() === '7BIT')) {
            bodyType = value.toUpperCase() as '7BIT' | '8BITMIME';
          } else if (name === 'ENVID' && value) envid = value;
          else if (name === 'RET' && (value.toUpperCase() === 'FULL' || value.toUpperCase() === 'HDRS')) ret = value.toUpperCase() as 'FULL' | 'HDRS';
          else bad = `555 5.5.4 Unsupported option: ${name}${value ? '=' + value : ''}`;
          if (bad) break;
        }
        if (bad) {
          bodyType = undefined;
          envid = undefined;
          ret = undefined;
          reply(bad);
          break;
        }
        sender = qualify(path.address, s.myorigin);
        reply('250 2.1.0 Ok');
        break;
      }
      case 'RCPT': {
        if (sender === undefined) {
          reply('503 5.5.1 Error: need MAIL command');
          break;
        }
        const m = /^TO:(.*)$/i.exec(arg);
        const path = m ? parsePath(m[1]) : undefined;
        if (!path || path.address === '' || /[\x00-\x1f\x7f]/.test(path.address)) {
          reply('501 5.5.4 Syntax: RCPT TO:<address>');
          break;
        }
        const spec: RecipientSpec = { address: qualify(path.address, s.myorigin) };
        let bad: string | undefined;
        for (const [name, value] of path.params) {
          const words = value.toUpperCase().split(',');
          if (name === 'NOTIFY' && words.every((w) => NOTIFY.has(w)) && !(words.includes('NEVER') && words.length > 1)) spec.notify = words as DsnNotify[];
          else if (name === 'ORCPT' && value) spec.orcpt = value;
          else bad = `555 5.5.4 Unsupported option: ${name}${value ? '=' + value : ''}`;
        }
        if (bad) {
          reply(bad);
          break;
        }
        recipients.push(spec);
        reply('250 2.1.5 Ok');
        break;
      }
      case 'DATA': {
        if (sender === undefined) {
          reply('503 5.5.1 Error: need RCPT command');
          break;
        }
        if (recipients.length === 0) {
          reply('554 5.5.1 Error: no valid recipients');
          break;
        }
        reply('354 End data with <CR><LF>.<CR><LF>');
        const parts: Buffer[] = [];
        let size = 0;
        let ended = false;
        for (;;) {
          const d = await input.next();
          if (d.done) break;
          if (d.value.length === 1 && d.value[0] === 0x2e) {
            ended = true;
            break;
          }
          // Dot-stuffing undone: a leading "." was doubled by the client.
          const text = d.value[0] === 0x2e ? d.value.subarray(1) : d.value;
          size += text.length + 2;
          if (s.sizeLimit === 0 || size <= s.sizeLimit) parts.push(text, Buffer.from('\r\n'));
        }
        if (!ended) return;
        if (s.sizeLimit > 0 && size > s.sizeLimit) {
          reply('552 5.3.4 Error: message file too big');
          reset();
          break;
        }
        const envelope: MaildropEnvelope = { sender, recipients, arrivalTime: Date.now(), uid: s.uid, flags: ['s'] };
        if (bodyType) envelope.bodyType = bodyType;
        if (envid) envelope.envid = envid;
        if (ret) envelope.ret = ret;
        try {
          const dir = await ensureMaildrop(s.queueDir);
          const name = await writeMaildropFile(dir, encodeMaildropFile(envelope, Buffer.concat(parts)));
          reply(`250 2.0.0 Ok: queued as ${name}`);
        } catch {
          reply('451 4.3.0 Error: queue file write error');
        }
        reset();
        break;
      }
      case 'RSET':
        reset();
        reply('250 2.0.0 Ok');
        break;
      case 'NOOP':
        reply('250 2.0.0 Ok');
        break;
      case 'VRFY':
        if (!arg) reply('501 5.5.4 Syntax: VRFY address');
        else reply(`252 2.0.0 ${arg}`);
        break;
      case 'QUIT':
        reply('221 2.0.0 Bye');
        return;
      case '':
        reply('500 5.5.2 Error: bad syntax');
        break;
      default:
        reply('502 5.5.2 Error: command not recognized');
    }
  }
}
