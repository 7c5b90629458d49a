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
/** A nodemailer error as the client makes them (smtp-client's ClientError has these fields). */
export interface ClientError extends Error {
  code?: string;
  response?: string;
  responseCode?: number;
  command?: string;
}

/** What runBdat needs of the client connection. */
export interface BdatChannel {
  /** Extensions of the server's EHLO reply, upper case. */
  readonly extensions: string[];
  /** Writes a command line (with the client's MAIL/RCPT parameters added); `onReply` gets its reply, in order. */
  command(line: string, onReply: (reply: string) => void): void;
  /** Writes bytes as they are. */
  write(data: Buffer): void;
  /** Holds writes until uncork(), so a burst leaves in one system call. */
  cork(): void;
  uncork(): void;
  /** Registers the transaction: a lost connection or a timeout calls `onLost` once. */
  begin(onLost: (err: ClientError) => void): void;
  /** Unregisters it. */
  end(): void;
  /** Drops the connection (a server that accepted what it should have refused is not trusted further). */
  close(): void;
  /** A nodemailer-style error carrying the server's reply. */
  error(message: string, code: string, response: string, command: string): ClientError;
}

/** The outcome of a BDAT transaction, as nodemailer's send() reports a DATA one. */
export interface BdatResult {
  /** The server's reply to the last chunk when it accepted the message. */
  info?: { response: string };
  error?: ClientError;
  accepted: string[];
  rejectedErrors: ClientError[];
}

/**
 * Sends one message with BDAT on `channel`. `mailArgs` are the MAIL FROM
 * parameters this side decides (BODY=, SIZE=); the channel adds the DSN
 * and SMTPUTF8 ones.
 */
export function runBdat(channel: BdatChannel, from: string, to: string[], mailArgs: string[], message: Buffer): Promise<BdatResult> {
  const pipelined = channel.extensions.includes('PIPELINING');
  const accepted: string[] = [];
  const rejectedErrors: ClientError[] = [];
  let mailError: ClientError | undefined;
  const mailFrom = `MAIL FROM:<${from}>` + (mailArgs.length ? ' ' + mailArgs.join(' ') : '');

  return new Promise((resolve) => {
    let done = false;
    const finish = (r: { info?: { response: string }; error?: ClientError }): void => {
      if (done) return;
      done = true;
      channel.end();
      resolve({ ...r, accepted, rejectedErrors });
    };
    channel.begin((err) => finish({ error: mailError ?? err }));

    const onMail = (reply: string): void => {
      if (reply[0] !== '2') mailError = channel.error('Mail command failed', 'EENVELOPE', reply, 'MAIL FROM');
    };
    const onRcpt = (address: string) => (reply: string): void => {
      if (reply[0] === '2') {
        accepted.push(address);
        return;
      }
      const err = channel.error('Recipient command failed', 'EENVELOPE', reply, 'RCPT TO') as ClientError & { recipient?: string };
      err.recipient = address;
      rejectedErrors.push(err);
    };
    // The envelope's verdict once every reply to it is in: nodemailer's rule, a temporary refusal first.
    const envelopeError = (): ClientError | undefined => {
      if (mailError) return mailError;
      if (accepted.length) return undefined;
      const last = rejectedErrors.find((e) => (e.responseCode ?? 500) < 500) ?? rejectedErrors[rejectedErrors.length - 1];
      return channel.error("Can't send mail - all recipients were rejected", 'EENVELOPE', last?.response ?? '554 5.5.1 no valid recipients', 'RCPT TO');
    };
    const onLast = (reply: string): void => {
      const envelope = envelopeError();
      if (envelope) {
        if (reply[0] === '2') channel.close();
        return finish({ error: envelope });
      }
      if (reply[0] !== '2') return finish({ error: channel.error('Message failed', 'EMESSAGE', reply, 'BDAT') });
      finish({ info: { response: reply } });
    };
    const sendChunk = (): void => {
      channel.cork();
      channel.command(`BDAT ${message.length} LAST`, onLast);
      if (message.length) channel.write(message);
      channel.uncork();
    };

    if (pipelined) {
      channel.cork();
      channel.command(mailFrom, onMail);
      for (const address of to) channel.command(`RCPT TO:<${address}>`, onRcpt(address));
      channel.command(`BDAT ${message.length} LAST`, onLast);
      if (message.length) channel.write(message);
      channel.uncork();
      return;
    }

    // One command at a time: the chunk goes only once a recipient was accepted.
    let next = 0;
    const sendRcpt = (): void => {
      if (next < to.length) {
        const address = to[next++];
        channel.command(`RCPT TO:<${address}>`, (reply) => {
          onRcpt(address)(reply);
          sendRcpt();
        });
        return;
      }
      const envelope = envelopeError();
      if (envelope) return finish({ error: envelope });
      sendChunk();
    };
    channel.command(mailFrom, (reply) => {
      onMail(reply);
      if (mailError) return finish({ error: mailError });
      sendRcpt();
    });
  });
}
