/**
 * smtp-envelope: the envelope of a mail transaction and nothing more, for
 * sendmail -bv (Postfix's smtp in verify mode): MAIL FROM, then RCPT TO per
 * recipient, one command at a time, and no DATA; the caller then says RSET
 * (to keep the connection) or QUIT. Each recipient's own RCPT reply is its
 * verdict. runEnvelope() never rejects: a refused MAIL FROM ends it with
 * `mailReply` set and no RCPT sent; a lost connection or a timeout ends it
 * with the client's `error`, and the recipients not answered yet have no
 * reply.
 */
import type { ClientError, CommandChannel } from './smtp-channel.js';

/** What the server said to the envelope. */
export interface EnvelopeResult {
  /** The refusal of MAIL FROM; absent when it was accepted. */
  mailReply?: string;
  /** The RCPT replies received, in recipient order (fewer than the recipients when the connection was lost). */
  replies: string[];
  /** The connection was lost or timed out. */
  error?: ClientError;
}

/** Sends MAIL FROM and the RCPTs on `channel` (which adds the DSN parameters). */
export function runEnvelope(channel: CommandChannel, from: string, to: string[]): Promise<EnvelopeResult> {
  const replies: string[] = [];
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: { mailReply?: string; error?: ClientError }): void => {
      if (done) return;
      done = true;
      channel.end();
      resolve({ ...r, replies });
    };
    channel.begin((error) => finish({ error }));
    let next = 0;
    const sendRcpt = (): void => {
      if (next >= to.length) return finish({});
      channel.command(`RCPT TO:<${to[next++]}>`, (reply) => {
        replies.push(reply);
        sendRcpt();
      });
    };
    channel.command(`MAIL FROM:<${from}>`, (reply) => {
      if (reply[0] !== '2') return finish({ mailReply: reply });
      sendRcpt();
    });
  });
}
