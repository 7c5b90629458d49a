/**
 * smtp-envelope-replies: what the replies to MAIL FROM and RCPT TO say of a
 * transaction, read the way nodemailer's send() reads them, for the
 * transactions this side runs itself (DATA in smtp-data, BDAT in
 * smtp-bdat): the recipients accepted, those refused with their reply
 * (each error names its recipient), and the error that ends the
 * transaction before its content; the envelope sent one command at a
 * time, for a server without PIPELINING; and the frame of one transaction
 * (withTransaction): its end, once, by a final reply, an error or a lost
 * connection.
 */
import type { ClientError, CommandChannel, SendResult } from './smtp-channel.js';

export class EnvelopeReplies {
  readonly accepted: string[] = [];
  readonly rejectedErrors: ClientError[] = [];
  /** The refusal of MAIL FROM, once its reply is in. */
  mailError: ClientError | undefined;

  constructor(private readonly channel: CommandChannel) {}

  /** The reply handler of MAIL FROM. */
  readonly onMail = (reply: string): void => {
    if (reply[0] !== '2') this.mailError = this.channel.error('Mail command failed', 'EENVELOPE', reply, 'MAIL FROM');
  };

  /** The reply handler of RCPT TO for `address`. */
  onRcpt(address: string): (reply: string) => void {
    return (reply) => {
      if (reply[0] === '2') {
        this.accepted.push(address);
        return;
      }
      const err = this.channel.error('Recipient command failed', 'EENVELOPE', reply, 'RCPT TO') as ClientError & { recipient?: string };
      err.recipient = address;
      this.rejectedErrors.push(err);
    };
  }

  /** The envelope's verdict once every reply to it is in: nodemailer's rule, a temporary refusal first. */
  error(): ClientError | undefined {
    if (this.mailError) return this.mailError;
    if (this.accepted.length) return undefined;
    const last = this.rejectedErrors.find((e) => (e.responseCode ?? 500) < 500) ?? this.rejectedErrors[this.rejectedErrors.length - 1];
    return this.channel.error("Can't send mail - all recipients were rejected", 'EENVELOPE', last?.response ?? '554 5.5.1 no valid recipients', 'RCPT TO');
  }
}

/**
 * MAIL FROM, then each RCPT TO after the reply to the one before (a server
 * without PIPELINING); `then` gets the envelope's verdict once the last
 * reply is in, or the MAIL FROM refusal at once.
 */
export function sendEnvelopeStepwise(channel: CommandChannel, envelope: EnvelopeReplies, mailFrom: string, to: string[], then: (refused: ClientError | undefined) => void): void {
  let next = 0;
  const sendRcpt = (): void => {
    if (next >= to.length) return then(envelope.error());
    const address = to[next++];
    const onReply = envelope.onRcpt(address);
    channel.command(`RCPT TO:<${address}>`, (reply) => {
      onReply(reply);
      sendRcpt();
    });
  };
  channel.command(mailFrom, (reply) => {
    envelope.onMail(reply);
    if (envelope.mailError) return then(envelope.mailError);
    sendRcpt();
  });
}

/** What the steps of one transaction share: its envelope's replies, its MAIL FROM line, and the one way it ends. */
export interface Transaction {
  envelope: EnvelopeReplies;
  mailFrom: string;
  /** Ends the transaction (the first call counts): the server's final reply, or the error that ended it. */
  finish(r: { info?: { response: string }; error?: ClientError }): void;
}

/**
 * Runs one transaction on `channel`: `start` sends its commands, and it
 * ends at its first finish(), or with the client's error when the
 * connection is lost or times out (the MAIL FROM refusal when that came
 * first). `mailArgs` go on MAIL FROM after the address.
 */
export function withTransaction(channel: CommandChannel, from: string, mailArgs: string[], start: (tx: Transaction) => void): Promise<SendResult> {
  const envelope = new EnvelopeReplies(channel);
  const mailFrom = `MAIL FROM:<${from}>` + (mailArgs.length ? ' ' + mailArgs.join(' ') : '');
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: { info?: { response: string }; error?: ClientError }): void => {
      if (done) return;
      done = true;
      channel.end();
      resolve({ ...r, accepted: envelope.accepted, rejectedErrors: envelope.rejectedErrors });
    };
    channel.begin((err) => finish({ error: envelope.mailError ?? err }));
    start({ envelope, mailFrom, finish });
  });
}
