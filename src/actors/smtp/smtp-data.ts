/**
 * smtp-data: one mail transaction sent with DATA: MAIL FROM, RCPT TO per
 * recipient, DATA, then the content made transparent (smtp-dot-stuff) and
 * the final "." line. With PIPELINING the envelope and DATA leave in one
 * write and the replies are read in order after (RFC 2920: DATA ends the
 * group, the content waits for its 354); without it each envelope command
 * waits for its reply. The content and the "." line leave in one write.
 * This replaces nodemailer's send(), whose envelope handling, reply
 * callbacks and content stream were a sixth of an smtp thread's CPU
 * (perf/harness `bench run` under --cpu-prof), with the same commands, the
 * same MAIL FROM parameters in the same order, and the same outcomes:
 *
 * - a refused MAIL FROM, or every recipient refused, ends it with the
 *   envelope's error (smtp-envelope-replies); a server that answers 354
 *   all the same gets the lone "." that ends an empty message, as RFC 2920
 *   section 3.1 asks, or, after a refused MAIL FROM, the connection closed;
 * - DATA refused: "Data command failed" (EENVELOPE, command DATA);
 * - the content refused: "Message failed" (EMESSAGE, command DATA);
 * - a lost connection or a timeout: the client's error, no reply.
 *
 * runData() never rejects.
 */
import type { CommandChannel, SendResult } from './smtp-channel.js';
import { dotStuff } from './smtp-dot-stuff.js';
import { withTransaction } from './smtp-envelope-replies.js';

const CR = 0x0d;
const LF = 0x0a;
const NEWLINE_BEFORE_DOT = { [LF]: '', [CR]: '\n' } as Record<number, string>;
/** The bytes of each line end lineEndBeforeDot gives, made once rather than per message. */
const LINE_END_BYTES: Record<string, Buffer> = { '\n': Buffer.from('\n'), '\r\n': Buffer.from('\r\n') };

/** What goes between `content` and the final "." line: a line end unless it has one (a trailing bare CR gets its LF), as nodemailer's DataStream ends it. */
export function lineEndBeforeDot(content: Buffer): string {
  return content.length ? (NEWLINE_BEFORE_DOT[content[content.length - 1]] ?? '\r\n') : '\r\n';
}

/**
 * Sends `content` (CRLF lines as queued, not yet dot-stuffed) with DATA on
 * `channel`. `mailArgs` are the MAIL FROM parameters this side decides
 * (SMTPUTF8, BODY=, SIZE=); the channel adds the DSN and REQUIRETLS ones.
 */
export function runData(channel: CommandChannel, from: string, to: string[], mailArgs: string[], content: Buffer): Promise<SendResult> {
  return withTransaction(channel, from, to, mailArgs, ({ envelope, envelopeThen, finish }) => {
    const onEnd = (reply: string): void => {
      if (reply[0] !== '2') return finish({ error: channel.error('Message failed', 'EMESSAGE', reply, 'DATA') });
      finish({ info: { response: reply } });
    };
    const sendContent = (): void => {
      channel.cork();
      const stuffed = dotStuff(content, false);
      if (stuffed.length) channel.write(stuffed);
      const end = lineEndBeforeDot(content);
      if (end) channel.write(LINE_END_BYTES[end]);
      channel.command('.', onEnd);
      channel.uncork();
    };
    const onData = (reply: string): void => {
      const refused = envelope.error();
      if (refused) {
        if (reply[0] !== '3') return finish({ error: refused });
        // A server that refused the sender has no transaction to end: it is not trusted further.
        if (envelope.mailError) {
          channel.close();
          return finish({ error: refused });
        }
        // DATA taken with no recipient accepted: end the empty message, and the session stays usable.
        channel.command('.', () => finish({ error: refused }));
        return;
      }
      // 354 as RFC 5321 says, or a 2xx some servers send instead.
      if (reply[0] !== '3' && reply[0] !== '2') return finish({ error: channel.error('Data command failed', 'EENVELOPE', reply, 'DATA') });
      sendContent();
    };

    envelopeThen(() => channel.command('DATA', onData));
  });
}
