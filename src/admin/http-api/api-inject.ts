/**
 * api-inject: POST /api/v1/inject. The message goes in as SMTP to the
 * daemon's own first smtpd inet service, over loopback, so it passes the
 * same restrictions, cleanup, checks and milters as any SMTP client, and
 * the answer comes after the 250 (the journal has it on disk): the queue
 * id from "250 2.0.0 Ok: queued as ID". A message is given as raw RFC 5322
 * content, or as fields that nodemailer's composer builds into one.
 *
 * Errors: a refusal comes back as InjectRefused with the SMTP reply (5xx:
 * the message is bad; 4xx: try later); no smtpd inet service, or one that
 * cannot be reached, as InjectUnavailable. Nothing is queued on either.
 */
import { createTransport } from 'nodemailer';
import { splitList } from '../../config/main-config.js';
import { parseInetListen } from '../../config/inet-listen.js';
import type { SupervisorConfig } from '../../supervisor/role-registry.js';

/** What a client posts: an envelope, and raw content or fields to compose. */
export interface InjectRequest {
  from: string;
  to: string[];
  raw?: string;
  subject?: string;
  text?: string;
  html?: string;
  headers?: Record<string, string>;
}

export class InjectRefused extends Error {
  constructor(
    readonly reply: string,
    readonly code: number,
  ) {
    super(reply);
    this.name = 'InjectRefused';
  }
}

export class InjectUnavailable extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'InjectUnavailable';
  }
}

/** Where the first smtpd inet service listens, as a loopback client reaches it. */
export function injectTarget(config: SupervisorConfig): { host: string; port: number } | undefined {
  const svc = config.master.find((s) => s.type === 'inet' && s.command === 'smtpd');
  if (!svc) return undefined;
  const params = { ...config.params, ...svc.overrides };
  const l = parseInetListen(svc.name, splitList(params.inet_interfaces ?? 'all'));
  const host = l.host === undefined || l.host === '0.0.0.0' ? '127.0.0.1' : l.host === '::' ? '::1' : l.host;
  return { host, port: l.port };
}

/** Sends the message through smtpd; resolves with its queue id. */
export async function inject(config: SupervisorConfig, req: InjectRequest): Promise<{ queueId: string; reply: string }> {
  const target = injectTarget(config);
  if (!target) throw new InjectUnavailable('no smtpd inet service in master.cf to inject through');
  const transport = createTransport({ host: target.host, port: target.port, secure: false, ignoreTLS: true, name: 'localhost', connectionTimeout: 10_000, socketTimeout: 60_000 });
  // A fresh envelope per send: the client changes the object it is given.
  const envelope = { from: req.from, to: [...req.to] };
  const mail = req.raw !== undefined
    ? { envelope, raw: req.raw }
    : { envelope, from: req.from, to: req.to.join(', '), subject: req.subject, text: req.text, html: req.html, headers: req.headers };
  try {
    const info = await transport.sendMail(mail);
    const reply = String(info.response ?? '');
    const m = /queued as ([0-9A-Za-z]+)/.exec(reply);
    if (!m) throw new InjectRefused(reply || 'no reply', 0);
    return { queueId: m[1], reply };
  } catch (err) {
    if (err instanceof InjectRefused) throw err;
    const e = err as { responseCode?: number; response?: string; code?: string; message?: string };
    if (e.responseCode) throw new InjectRefused(e.response ?? e.message ?? 'refused', e.responseCode);
    throw new InjectUnavailable(`cannot reach smtpd at ${target.host}:${target.port}: ${e.message ?? String(err)}`);
  } finally {
    transport.close();
  }
}
