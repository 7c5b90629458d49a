/**
 * send-mail: sends one message to a server with nodemailer's SMTP client, a
 * fresh envelope per send (the client mutates the envelope it is given).
 */
import SMTPConnection from 'nodemailer/lib/smtp-connection';

export interface SendResult {
  response: string;
  accepted: string[];
  rejected: string[];
  queueId?: string;
}

export async function sendMail(
  port: number,
  mail: { from: string; to: string[]; raw: string | Buffer; dsn?: { ret?: 'FULL' | 'HDRS'; envid?: string; notify?: string[] }; requiretls?: boolean },
  opts: { host?: string; secure?: boolean; tls?: object; requireTls?: boolean; auth?: { user: string; pass: string } } = {},
): Promise<SendResult> {
  const conn = new SMTPConnection({ host: opts.host ?? '127.0.0.1', port, secure: false, ignoreTLS: !opts.tls, requireTLS: opts.requireTls, tls: opts.tls ?? { rejectUnauthorized: false }, name: 'client.test', connectionTimeout: 10_000, socketTimeout: 30_000 });
  let failed: ((err: Error) => void) | undefined;
  conn.on('error', (err: Error) => failed?.(err));
  await new Promise<void>((res, rej) => {
    failed = rej;
    conn.connect((err?: Error | null) => (err ? rej(err) : res()));
  });
  try {
    if (opts.auth) {
      await new Promise<void>((res, rej) => conn.login(opts.auth!, (err?: Error | null) => (err ? rej(err) : res())));
    }
    const envelope = { from: mail.from, to: [...mail.to] } as { from: string; to: string[]; dsn?: object };
    if (mail.dsn) envelope.dsn = { ...mail.dsn };
    // RFC 8689: nodemailer adds REQUIRETLS to MAIL FROM (in a TLS session whose server offers it).
    if (mail.requiretls) (envelope as { requireTLSExtensionEnabled?: boolean }).requireTLSExtensionEnabled = true;
    const info = await new Promise<{ response: string; accepted: string[]; rejected: string[] }>((res, rej) => {
      failed = rej;
      conn.send(envelope, mail.raw, (err: Error | null, i: { response: string; accepted: string[]; rejected: string[] }) => (err ? rej(err) : res(i)));
    });
    const m = /queued as ([0-9A-Za-z]+)/.exec(info.response);
    return { response: info.response, accepted: info.accepted, rejected: info.rejected, queueId: m?.[1] };
  } finally {
    conn.quit();
    conn.close();
  }
}

/** Polls until `check` returns true or the time runs out. */
export async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs = 20_000, what = 'condition'): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out waiting for ${what}`);
}
