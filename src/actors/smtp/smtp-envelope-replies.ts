/**
 * smtp-envelope-replies: what the replies to MAIL FROM and RCPT TO say of a
 * transaction, read the way nodemailer's send() reads them, for the
 * transactions this side runs itself (DATA in smtp-data, BDAT in
 * smtp-bdat): the recipients accepted, those refused with their reply
 * (each error names its recipient), and the error that ends the
 * transaction before its content; and the frame of one transaction
 * (withTransaction): its envelope sent pipelined or one command at a time,
 * and its end, once, by a final reply, an error or a lost connection.
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
function sendEnvelopeStepwise(channel: CommandChannel, envelope: EnvelopeReplies, mailFrom: string, to: string[], then: (refused: ClientError | undefined) => void): void {
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

/** What the steps of one transaction share: its envelope's replies, and the one way it ends. */
export interface Transaction {
  envelope: EnvelopeReplies;
  /**
   * Sends MAIL FROM and the RCPTs, then what `sendLast` writes (the DATA
   * command, or BDAT and its chunk), in one corked burst. With PIPELINING
   * all of it leaves at once and the replies are read in order, the last
   * command's handler judging the envelope; without it each envelope
   * command waits for its reply, and `sendLast` runs only once a recipient
   * was accepted (else the transaction ends with the envelope's error).
   */
  envelopeThen(sendLast: () => void): void;
  /** Ends the transaction (the first call counts): the server's final reply, or the error that ended it. */
  finish(r: { info?: { response: string }; error?: ClientError }): void;
}

/** A character that would break a command line, in an address. */
const BREAKS_COMMAND = /[\r\n<>]/;

/**
 * Runs one transaction on `channel` for `from` and `to` (trimmed, as
 * nodemailer took them): `start` sends its commands, and it ends at its
 * first finish(), or with the client's error when the connection is lost
 * or times out (the MAIL FROM refusal when that came first). An address
 * that would break a command line ends it before anything is sent.
 * `mailArgs` go on MAIL FROM after the address.
 */
export function withTransaction(channel: CommandChannel, from: string, to: string[], mailArgs: string[], start: (tx: Transaction) => void): Promise<SendResult> {
  const sender = from.trim();
  const recipients = to.map((a) => a.trim());
  const envelope = new EnvelopeReplies(channel);
  const bad = BREAKS_COMMAND.test(sender) ? sender : recipients.find((a) => BREAKS_COMMAND.test(a));
  if (bad !== undefined) {
    return Promise.resolve({ error: channel.error(`Invalid address ${JSON.stringify(bad)}`, 'EENVELOPE', '', 'API'), accepted: [], rejectedErrors: [] });
  }
  const mailFrom = `MAIL FROM:<${sender}>` + (mailArgs.length ? ' ' + mailArgs.join(' ') : '');
  return new Promise((resolve) => {
    let done = false;
    const finish = (r: { info?: { response: string }; error?: ClientError }): void => {
      if (done) return;
      done = true;
      channel.end();
      resolve({ ...r, accepted: envelope.accepted, rejectedErrors: envelope.rejectedErrors });
    };
    const burst = (send: () => void): void => {
      channel.cork();
      send();
      channel.uncork();
    };
    const envelopeThen = (sendLast: () => void): void => {
      if (!channel.extensions.includes('PIPELINING')) {
        sendEnvelopeStepwise(channel, envelope, mailFrom, recipients, (refused) => (refused ? finish({ error: refused }) : burst(sendLast)));
        return;
      }
      burst(() => {
        channel.command(mailFrom, envelope.onMail);
        for (const address of recipients) channel.command(`RCPT TO:<${address}>`, envelope.onRcpt(address));
        sendLast();
      });
    };
    channel.begin((err) => finish({ error: envelope.mailError ?? err }));
    start({ envelope, envelopeThen, finish });
  });
}
