/**
 * tlsrpt-send: delivery of the daily TLSRPT reports (RFC 8460 sections 3
 * and 5). For each policy domain with results on a day, the
 * `_smtp._tls.DOMAIN` TXT record (exactly one starting "v=TLSRPTv1;") names
 * the rua URIs; the report (tlsrpt-report.ts) is gzipped and goes to each:
 * mailto: as a multipart/report; report-type="tlsrpt" message with the
 * application/tlsrpt+gzip part and the section 5.3 headers, through this
 * system's own queue (a maildrop file that pickup takes in, as `postrider
 * sendmail` writes), https: by POST with Content-Type
 * application/tlsrpt+gzip and a certificate verified against
 * smtp_tlsrpt_CAfile (empty: Node's public roots).
 *
 * A finished day is claimed before it is sent ($queue_directory/tlsrpt/DAY
 * gets a ".sent" directory, made atomically), so several smtp threads and
 * the command line never send one day twice. A failed https: POST is
 * reported, not retried.
 *
 * Public: tlsrptSettings, sendFinishedDays, sendDay, lookupRua,
 * startTlsRptSchedule. Sending never throws for one bad domain or URI: each
 * outcome is returned as text.
 */
import { promises as dnsPromises } from 'node:dns';
import { mkdirSync, readdirSync, readFileSync } from 'node:fs';
import { request } from 'node:https';
import { isIP } from 'node:net';
import { join } from 'node:path';
import { randomBytes } from 'node:crypto';
import { gzipSync } from 'node:zlib';
import type { MainConfig } from '../config/main-config.js';
import { withParameterDefaults } from '../config/parameter-defaults.js';
import { ensureMaildrop, encodeMaildropFile, writeMaildropFile } from './maildrop-file.js';
import { mailDate } from './mail-date.js';
import { dayOf, tlsrptDir } from './tlsrpt-record.js';
import { buildReports, readDay, type TlsRptReport } from './tlsrpt-report.js';

const TLSRPT_PARAMETERS = [
  'queue_directory', 'myhostname', 'smtp_tlsrpt_enable', 'smtp_tlsrpt_organization_name', 'smtp_tlsrpt_contact_info',
  'smtp_tlsrpt_send_time', 'smtp_tlsrpt_CAfile', 'dns_resolver_servers',
] as const;

export interface TlsRptSettings {
  enabled: boolean;
  queueDir: string;
  organization: string;
  contact: string;
  /** The submitter (myhostname): Subject, TLS-Report-Submitter, file name. */
  submitter: string;
  /** smtp_tlsrpt_send_time as minutes after 00:00 UTC. */
  sendMinute: number;
  resolver: dnsPromises.Resolver;
  ca?: Buffer;
}

/** The reports' settings from main.cf; throws ConfigError on a malformed value or an unreadable smtp_tlsrpt_CAfile. */
export function tlsrptSettings(input: MainConfig): TlsRptSettings {
  const config = withParameterDefaults(input, TLSRPT_PARAMETERS);
  const time = /^(\d{1,2}):(\d{2})$/.exec(config.get('smtp_tlsrpt_send_time').trim());
  if (!time || Number(time[1]) > 23 || Number(time[2]) > 59) throw new Error(`smtp_tlsrpt_send_time = ${config.get('smtp_tlsrpt_send_time')}: not HH:MM`);
  const resolver = new dnsPromises.Resolver({ timeout: 5000, tries: 2 });
  const servers = config.list('dns_resolver_servers');
  if (servers.length) resolver.setServers(servers);
  const caFile = config.path('smtp_tlsrpt_CAfile');
  return {
    enabled: config.bool('smtp_tlsrpt_enable'),
    queueDir: config.path('queue_directory'),
    organization: config.get('smtp_tlsrpt_organization_name').trim(),
    contact: config.get('smtp_tlsrpt_contact_info').trim(),
    submitter: config.get('myhostname').trim(),
    sendMinute: Number(time[1]) * 60 + Number(time[2]),
    resolver,
    ca: caFile ? readFileSync(caFile) : undefined,
  };
}

/** The rua URIs of a domain; undefined when it publishes no (single, valid) TLSRPT record. */
export async function lookupRua(resolver: dnsPromises.Resolver, domain: string): Promise<string[] | undefined> {
  let txt: string[][];
  try {
    txt = await resolver.resolveTxt(`_smtp._tls.${domain}`);
  } catch {
    return undefined;
  }
  // Section 3: records not starting "v=TLSRPTv1;" are ignored; anything but exactly one left means none.
  const records = txt.map((r) => r.join('')).filter((r) => /^v=TLSRPTv1\s*;/.test(r));
  if (records.length !== 1) return undefined;
  for (const field of records[0].split(';').slice(1)) {
    const m = /^\s*rua\s*=\s*(.*?)\s*$/.exec(field);
    if (m) {
      const uris = m[1].split(',').map((u) => u.trim()).filter((u) => /^(mailto:|https:)/i.test(u));
      return uris.length ? uris : undefined;
    }
  }
  return undefined;
}

/** The section 5.1 file name: submitter!policy-domain!begin!end!unique-id.json.gz (times in seconds). */
function reportFileName(report: TlsRptReport, domain: string, submitter: string): string {
  const begin = Math.floor(Date.parse(report['date-range']['start-datetime']) / 1000);
  const end = Math.floor(Date.parse(report['date-range']['end-datetime']) / 1000);
  return `${submitter}!${domain}!${begin}!${end}!${randomBytes(4).toString('hex')}.json.gz`;
}

/** The section 5.3 message around a gzipped report. */
export function reportMessage(report: TlsRptReport, gz: Buffer, domain: string, s: TlsRptSettings, to: string, now = Date.now()): Buffer {
  const boundary = `tlsrpt-${randomBytes(8).toString('hex')}`;
  const b64 = gz.toString('base64').replace(/.{1,76}/g, '$&\r\n');
  const lines = [
    `From: ${fromAddress(s)}`,
    `To: ${to}`,
    `Date: ${mailDate(now)}`,
    `Subject: Report Domain: ${domain} Submitter: ${s.submitter} Report-ID: <${report['report-id']}>`,
    `TLS-Report-Domain: ${domain}`,
    `TLS-Report-Submitter: ${s.submitter}`,
    `Message-ID: <${randomBytes(8).toString('hex')}.tlsrpt@${s.submitter}>`,
    'MIME-Version: 1.0',
    `Content-Type: multipart/report; report-type="tlsrpt"; boundary="${boundary}"`,
    '',
    'This is a MIME-formatted message.',
    '',
    `--${boundary}`,
    'Content-Type: text/plain; charset=us-ascii',
    '',
    `This is an aggregate TLS report (RFC 8460) from ${s.submitter} for ${domain},`,
    `${report['date-range']['start-datetime']} to ${report['date-range']['end-datetime']}.`,
    '',
    `--${boundary}`,
    'Content-Type: application/tlsrpt+gzip',
    'Content-Transfer-Encoding: base64',
    `Content-Disposition: attachment; filename="${reportFileName(report, domain, s.submitter)}"`,
    '',
  ];
  return Buffer.from(lines.join('\r\n') + '\r\n' + b64 + `--${boundary}--\r\n`);
}

function fromAddress(s: TlsRptSettings): string {
  return s.contact.includes('@') && !/\s/.test(s.contact) ? s.contact : `postmaster@${s.submitter}`;
}

/** What became of one report at one URI. */
export interface SendOutcome {
  line: string;
  ok: boolean;
}

async function sendMailto(uri: string, report: TlsRptReport, gz: Buffer, domain: string, s: TlsRptSettings): Promise<SendOutcome> {
  const address = decodeURIComponent(uri.slice('mailto:'.length).split('?')[0]);
  if (!/^[^@\s<>]+@[^@\s<>]+$/.test(address)) return { line: `${uri}: not a mail address`, ok: false };
  const message = reportMessage(report, gz, domain, s, address);
  const dir = await ensureMaildrop(s.queueDir);
  await writeMaildropFile(dir, encodeMaildropFile({ sender: fromAddress(s), recipients: [{ address }], arrivalTime: Date.now(), uid: process.getuid?.() ?? 0, flags: [] }, message));
  return { line: `${uri}: queued`, ok: true };
}

async function sendHttps(uri: string, gz: Buffer, s: TlsRptSettings): Promise<SendOutcome> {
  let url: URL;
  try {
    url = new URL(uri);
  } catch {
    return { line: `${uri}: not a URL`, ok: false };
  }
  let address = url.hostname;
  if (!isIP(address)) {
    try {
      address = (await s.resolver.resolve4(url.hostname))[0];
    } catch (err) {
      return { line: `${uri}: ${url.hostname}: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, ok: false };
    }
  }
  return new Promise((resolve) => {
    const req = request({
      host: address,
      port: url.port ? Number(url.port) : 443,
      path: url.pathname + url.search,
      method: 'POST',
      servername: isIP(url.hostname) ? undefined : url.hostname,
      headers: { host: url.host, 'content-type': 'application/tlsrpt+gzip', 'content-length': gz.length },
      ca: s.ca,
      rejectUnauthorized: true,
      agent: false,
      timeout: 60_000,
    }, (res) => {
      res.resume();
      const ok = (res.statusCode ?? 0) >= 200 && (res.statusCode ?? 0) < 300;
      resolve({ line: `${uri}: ${ok ? 'sent' : 'refused'}, HTTP ${res.statusCode}`, ok });
    });
    req.on('timeout', () => req.destroy(new Error('timed out')));
    req.on('error', (err) => resolve({ line: `${uri}: ${err.message}`, ok: false }));
    req.end(gz);
  });
}

/**
 * Sends the reports of `day`; `partial` (today's so far) reports from
 * midnight to now. Returns one line per domain and URI.
 */
export async function sendDay(s: TlsRptSettings, day: string, partial = false): Promise<SendOutcome[]> {
  const now = new Date();
  const range = partial ? { start: `${day}T00:00:00Z`, end: now.toISOString().replace(/\.\d+Z$/, 'Z') } : undefined;
  const reports = buildReports(readDay(s.queueDir, day), day, { organization: s.organization, contact: s.contact, submitter: s.submitter }, range);
  const out: SendOutcome[] = [];
  for (const [domain, report] of reports) {
    const rua = await lookupRua(s.resolver, domain);
    if (!rua) {
      out.push({ line: `${day} ${domain}: no TLSRPT record; no report`, ok: true });
      continue;
    }
    const gz = gzipSync(JSON.stringify(report));
    for (const uri of rua) {
      let o: SendOutcome;
      try {
        o = /^mailto:/i.test(uri) ? await sendMailto(uri, report, gz, domain, s) : await sendHttps(uri, gz, s);
      } catch (err) {
        o = { line: `${uri}: ${(err as Error).message}`, ok: false };
      }
      out.push({ line: `${day} ${domain}: ${o.line}`, ok: o.ok });
    }
  }
  return out;
}

/** Sends every finished day not sent yet (each claimed first, so it goes once). */
export async function sendFinishedDays(s: TlsRptSettings, now = Date.now()): Promise<SendOutcome[]> {
  const today = dayOf(now);
  let days: string[];
  try {
    days = readdirSync(tlsrptDir(s.queueDir)).filter((d) => /^\d{4}-\d{2}-\d{2}$/.test(d) && d < today).sort();
  } catch {
    return [];
  }
  const out: SendOutcome[] = [];
  for (const day of days) {
    try {
      mkdirSync(join(tlsrptDir(s.queueDir), day, '.sent'));
    } catch {
      continue;
    }
    out.push(...(await sendDay(s, day)));
  }
  return out;
}

/**
 * Runs sendFinishedDays every day at smtp_tlsrpt_send_time (UTC), and once
 * at start when that time has passed today (a daemon down at the hour
 * sends late, not never). `log` gets each outcome line.
 */
export function startTlsRptSchedule(config: MainConfig, log: (line: string) => void): { stop(): void } {
  let s: TlsRptSettings;
  try {
    s = tlsrptSettings(config);
  } catch (err) {
    log(`TLSRPT reports not scheduled: ${(err as Error).message}`);
    return { stop: () => undefined };
  }
  if (!s.enabled) return { stop: () => undefined };
  let timer: NodeJS.Timeout | undefined;
  const run = async () => {
    const outcomes = await sendFinishedDays(s).catch((err: Error) => [{ line: err.message, ok: false }]);
    for (const o of outcomes) log(`TLSRPT report ${o.line}`);
  };
  const arm = () => {
    const now = new Date();
    const next = new Date(Date.UTC(now.getUTCFullYear(), now.getUTCMonth(), now.getUTCDate(), 0, s.sendMinute));
    if (next.getTime() <= now.getTime()) next.setUTCDate(next.getUTCDate() + 1);
    timer = setTimeout(() => void run().finally(arm), next.getTime() - now.getTime());
    timer.unref();
  };
  const now = new Date();
  if (now.getUTCHours() * 60 + now.getUTCMinutes() >= s.sendMinute) void run();
  arm();
  return { stop: () => clearTimeout(timer) };
}
