/**
 * queue-format: how `postrider queue` prints the queue, in the layouts of
 * Postfix's mailq / postqueue -p (fixed columns), postqueue -j (one JSON
 * object per line) and postcat -q (envelope records, message contents).
 * Pure string functions over the store's QueuedMessage; they never throw,
 * and control characters in addresses and reasons are shown as "?" so a
 * hostile address cannot forge lines of the listing.
 */
import type { QueuedMessage, QueuedRecipient, QueueName } from '../store/store-types.js';
import { queueNameOf } from '../store/store-queue-name.js';

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function pad2(n: number): string {
  return n < 10 ? `0${n}` : String(n);
}

/** C's asctime() in local time, without the newline: "Sat Nov 28 20:33:07 2026". */
export function asctime(ms: number): string {
  const d = new Date(ms);
  const day = d.getDate();
  return (
    `${DAYS[d.getDay()]} ${MONTHS[d.getMonth()]} ${day < 10 ? ' ' + day : day} ` +
    `${pad2(d.getHours())}:${pad2(d.getMinutes())}:${pad2(d.getSeconds())} ${d.getFullYear()}`
  );
}

function printable(text: string): string {
  return text.replace(/[\x00-\x1f\x7f]/g, '?');
}

function padRight(s: string, width: number): string {
  return s.length >= width ? s : s + ' '.repeat(width - s.length);
}

function padLeft(s: string, width: number): string {
  return s.length >= width ? s : ' '.repeat(width - s.length) + s;
}

/** The null sender as the queue listings show it. */
const EMPTY_ADDRESS = 'MAILER-DAEMON';

/** Recipients still to be delivered: the ones mailq and postqueue -j list. */
function pending(m: QueuedMessage): QueuedRecipient[] {
  return m.recipients.filter((r) => r.state === 'ready' || r.state === 'deferred');
}

/** The queue a message is shown in (store/store-queue-name). */
export { queueNameOf };

/** mailq's heading line, with its newline. */
export function mailqHeader(): string {
  return `${padRight('-Queue ID-', 11)} ${padLeft('--Size--', 7)} ${padRight('----Arrival Time----', 20)} -Sender/Recipient-------\n`;
}

/**
 * One message as mailq shows it: "ID[*!] SIZE Www Mmm dd hh:mm:ss  SENDER",
 * then each pending recipient, preceded by a right-aligned "(reason)" line
 * whenever the reason changes from the previous recipient's, then the blank
 * line that separates entries. `nowMs` is accepted for callers that list
 * with one clock; the layout itself depends only on the message.
 */
export function formatMailqEntry(m: QueuedMessage, nowMs: number): string {
  void nowMs;
  const mark = m.hold ? '!' : queueNameOf(m) === 'active' ? '*' : '';
  let out =
    `${padRight(m.queueId + mark, 11)} ${padLeft(String(m.size), 7)} ` +
    `${asctime(m.arrivalTime).slice(0, 20)} ${printable(m.sender || EMPTY_ADDRESS)}\n`;
  let lastReason = '';
  for (const r of pending(m)) {
    const why = r.state === 'deferred' || m.hold ? printable(r.reason ?? '') : '';
    if (why !== lastReason) {
      const shown = why || 'reason unavailable';
      out += ' '.repeat(Math.max(0, 76 - shown.length)) + `(${shown})\n`;
      lastReason = why;
    }
    out += `${' '.repeat(41)}${printable(r.address)}\n`;
  }
  return out + '\n';
}

/** mailq's last line: "-- N Kbytes in M Requests." or "Mail queue is empty". */
export function mailqFooter(totalBytes: number, count: number): string {
  if (count === 0) return 'Mail queue is empty\n';
  return `-- ${Math.floor(totalBytes / 1024)} Kbytes in ${count} Request${count === 1 ? '' : 's'}.\n`;
}

/** One line of postqueue -j output (without the newline), fields in Postfix's order and spacing. */
export function formatPostqueueJson(m: QueuedMessage, queueName: QueueName): string {
  const q = (s: string): string => JSON.stringify(s);
  const rcpts = pending(m).map((r) => {
    const why = r.reason ?? '';
    return `{"address": ${q(r.address)}${why ? `, "delay_reason": ${q(why)}` : ''}}`;
  });
  return (
    `{"queue_name": ${q(queueName)}, "queue_id": ${q(m.queueId)}, ` +
    `"arrival_time": ${Math.floor(m.arrivalTime / 1000)}, "message_size": ${m.size}, ` +
    `"forced_expire": false, "sender": ${q(m.sender || EMPTY_ADDRESS)}, ` +
    `"recipients": [${rcpts.join(', ')}]}`
  );
}

/** DSN NOTIFY as Postfix's queue file bit mask (NEVER=1, SUCCESS=2, FAILURE=4, DELAY=8). */
function notifyMask(r: QueuedRecipient): number {
  const bits: Record<string, number> = { NEVER: 1, SUCCESS: 2, FAILURE: 4, DELAY: 8 };
  return (r.notify ?? []).reduce((acc, n) => acc | (bits[n] ?? 0), 0);
}

/**
 * A queued message as `postcat -q` prints it: envelope records, message
 * contents (header and body), the extracted segment, the end marker. With
 * no option set everything is shown (postcat's -beh); otherwise only the
 * parts asked for, and the envelope markers only with `envelope`.
 */
export function formatPostcat(
  m: QueuedMessage,
  content: Buffer,
  opts: { headers?: boolean; body?: boolean; envelope?: boolean } = {},
): string {
  const all = opts.headers === undefined && opts.body === undefined && opts.envelope === undefined;
  const showEnv = all || opts.envelope === true;
  const showHeaders = all || opts.headers === true;
  const showBody = all || opts.body === true;
  const path = `${queueNameOf(m)}/${m.queueId}`;
  const lines: string[] = [];
  if (showEnv) {
    const size = [m.size, m.location?.offset ?? 0, m.recipients.length, 0, m.size, m.smtputf8 ? 1 : 0]
      .map((n) => padLeft(String(n), 15))
      .join(' ');
    lines.push(`*** ENVELOPE RECORDS ${path} ***`);
    lines.push(`message_size: ${size}`);
    lines.push(`message_arrival_time: ${asctime(m.arrivalTime)}`);
    lines.push(`create_time: ${asctime(m.arrivalTime)}`);
    lines.push(`named_attribute: rewrite_context=${m.client?.protocol === 'local' ? 'local' : 'remote'}`);
    if (m.client) {
      lines.push(`named_attribute: client_name=${printable(m.client.name)}`);
      lines.push(`named_attribute: client_address=${printable(m.client.addr)}`);
      if (m.client.helo) lines.push(`named_attribute: helo_name=${printable(m.client.helo)}`);
      lines.push(`named_attribute: protocol_name=${printable(m.client.protocol)}`);
      if (m.client.saslUser) lines.push(`named_attribute: sasl_username=${printable(m.client.saslUser)}`);
    }
    if (m.envid) lines.push(`dsn_envelope_id: ${printable(m.envid)}`);
    if (m.ret) lines.push(`dsn_return_flags: ${m.ret === 'FULL' ? 1 : 2}`);
    lines.push(`sender: ${printable(m.sender)}`);
    for (const r of m.recipients) {
      if (r.orcpt) lines.push(`dsn_original_recipient: ${printable(r.orcpt)}`);
      const mask = notifyMask(r);
      if (mask) lines.push(`dsn_notify_flags: ${mask}`);
      const done = r.state === 'delivered' || r.state === 'bounced' || r.state === 'expired';
      // postcat shows the address as received before each recipient record (Postfix writes one always).
      lines.push(`original_recipient: ${printable(r.origRcpt ?? r.address)}`);
      lines.push(`${done ? 'done_recipient' : 'recipient'}: ${printable(r.address)}`);
    }
    lines.push(`*** MESSAGE CONTENTS ${path} ***`);
  }
  if (showHeaders || showBody) {
    const text = content.toString('utf8').replace(/\r\n/g, '\n');
    const split = text.startsWith('\n') ? 0 : text.indexOf('\n\n');
    const head = split < 0 ? text : text.slice(0, split);
    const rest = split < 0 ? '' : text.slice(split + 1);
    if (showHeaders && head) lines.push(...stripFinalNewline(head).split('\n'));
    if (showBody && rest) lines.push(...stripFinalNewline(rest).split('\n'));
  }
  if (showEnv) {
    lines.push(`*** HEADER EXTRACTED ${path} ***`);
    lines.push(`named_attribute: encoding=${m.bodyType === '8BITMIME' ? '8bit' : '7bit'}`);
    lines.push(`*** MESSAGE FILE END ${path} ***`);
  }
  return lines.join('\n') + '\n';
}

function stripFinalNewline(s: string): string {
  return s.endsWith('\n') ? s.slice(0, -1) : s;
}
