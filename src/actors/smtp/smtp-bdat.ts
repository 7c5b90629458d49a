/**
 * smtp-bdat: one mail transaction sent with BDAT (RFC 3030 CHUNKING) instead
 * of DATA: MAIL FROM, RCPT TO per recipient, then the whole message as one
 * chunk, "BDAT <size> LAST", byte for byte (no dot-stuffing, binary data
 * kept). With PIPELINING the envelope, the BDAT command and the content
 * leave together in one write, and the replies are read in order after; a
 * server must read and discard a chunk whose envelope it refused (RFC 3030
 * section 2), so the session stays in step whatever it answered. Without
 * PIPELINING each envelope command waits for its reply, and the BDAT
 * command and the content still leave in one write.
 *
 * runBdat() never rejects: it resolves with the replies in the shape
 * nodemailer's send() gives (accepted recipients, refused ones with their
 * reply, the error that ended the transaction), so the caller reads both
 * paths alike. A lost connection or a timeout ends it with the client's
 * error (code ECONNECTION / ETIMEDOUT).
 */
import type { CommandChannel, SendResult } from './smtp-channel.js';
import { withTransaction } from './smtp-envelope-replies.js';

/**
 * Sends one message with BDAT on `channel`. `mailArgs` are the MAIL FROM
 * parameters this side decides (BODY=, SIZE=); the channel adds the DSN
 * and SMTPUTF8 ones.
 */
export function runBdat(channel: CommandChannel, from: string, to: string[], mailArgs: string[], message: Buffer): Promise<SendResult> {
  return withTransaction(channel, from, to, mailArgs, ({ envelope, envelopeThen, finish }) => {
    const onLast = (reply: string): void => {
      const refused = envelope.error();
      if (refused) {
        if (reply[0] === '2') channel.close();
        return finish({ error: refused });
      }
      if (reply[0] !== '2') return finish({ error: channel.error('Message failed', 'EMESSAGE', reply, 'BDAT') });
      finish({ info: { response: reply } });
    };
    envelopeThen(() => {
      channel.command(`BDAT ${message.length} LAST`, onLast);
      if (message.length) channel.write(message);
    });
  });
}
