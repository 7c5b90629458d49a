/**
 * tlsrpt-report: the daily aggregate report of RFC 8460 section 4, built
 * from the session results tlsrpt-record.ts wrote for one UTC day: per
 * policy domain, one `policies` entry per policy (type and text), with its
 * summary counts and failure-details grouped by result type, sending and
 * receiving address and MX host. Also the figures `postrider tlsrpt show`
 * prints.
 *
 * Public: readDay, buildReports, daySummary, TlsRptReport.
 * readDay skips unreadable files and damaged lines (a crash may cut the last
 * line of a file); nothing here throws for bad data.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { tlsrptDir, type TlsRptLine } from './tlsrpt-record.js';

/** RFC 8460 section 4.4's JSON, one per policy domain and day. */
export interface TlsRptReport {
  'organization-name': string;
  'date-range': { 'start-datetime': string; 'end-datetime': string };
  'contact-info': string;
  'report-id': string;
  policies: Array<{
    policy: { 'policy-type': string; 'policy-string': string[]; 'policy-domain': string; 'mx-host'?: string[] };
    summary: { 'total-successful-session-count': number; 'total-failure-session-count': number };
    'failure-details': Array<{
      'result-type': string;
      'sending-mta-ip': string;
      'receiving-mx-hostname': string;
      'receiving-ip': string;
      'failed-session-count': number;
      'failure-reason-code'?: string;
    }>;
  }>;
}

/** Every result recorded on `day` ("YYYY-MM-DD"). */
export function readDay(queueDir: string, day: string): TlsRptLine[] {
  const dir = join(tlsrptDir(queueDir), day);
  let files: string[];
  try {
    files = readdirSync(dir).filter((f) => f.endsWith('.jsonl'));
  } catch {
    return [];
  }
  const out: TlsRptLine[] = [];
  for (const f of files.sort()) {
    let text: string;
    try {
      text = readFileSync(join(dir, f), 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n')) {
      if (!line) continue;
      try {
        const r = JSON.parse(line) as TlsRptLine;
        if (typeof r.policyDomain === 'string' && typeof r.ok === 'boolean') out.push(r);
      } catch {
        // A line cut by a crash: the rest of the day still counts.
      }
    }
  }
  return out;
}

/** The report of each policy domain for `day`, from its results. */
export function buildReports(
  lines: TlsRptLine[],
  day: string,
  who: { organization: string; contact: string; submitter: string },
  range = { start: `${day}T00:00:00Z`, end: `${day}T23:59:59Z` },
): Map<string, TlsRptReport> {
  const reports = new Map<string, TlsRptReport>();
  const policyIndex = new Map<string, TlsRptReport['policies'][number]>();
  const detailIndex = new Map<string, TlsRptReport['policies'][number]['failure-details'][number]>();
  for (const r of lines) {
    const domain = r.policyDomain;
    let report = reports.get(domain);
    if (!report) {
      report = {
        'organization-name': who.organization,
        'date-range': { 'start-datetime': range.start, 'end-datetime': range.end },
        'contact-info': who.contact,
        'report-id': `${range.start}_${domain}_${who.submitter}`,
        policies: [],
      };
      reports.set(domain, report);
    }
    const pkey = JSON.stringify([domain, r.policyType, r.policyStrings]);
    let entry = policyIndex.get(pkey);
    if (!entry) {
      const policy: TlsRptReport['policies'][number]['policy'] = { 'policy-type': r.policyType, 'policy-string': r.policyStrings, 'policy-domain': domain };
      const mx = r.policyStrings.filter((l) => /^mx\s*:/i.test(l)).map((l) => l.replace(/^mx\s*:\s*/i, ''));
      if (r.policyType === 'sts') policy['mx-host'] = mx;
      entry = { policy, summary: { 'total-successful-session-count': 0, 'total-failure-session-count': 0 }, 'failure-details': [] };
      policyIndex.set(pkey, entry);
      report.policies.push(entry);
    }
    if (r.ok) {
      entry.summary['total-successful-session-count']++;
      continue;
    }
    entry.summary['total-failure-session-count']++;
    const dkey = JSON.stringify([pkey, r.failure, r.sendingMta, r.mxHost, r.receivingIp]);
    let detail = detailIndex.get(dkey);
    if (!detail) {
      detail = {
        'result-type': r.failure ?? 'validation-failure',
        'sending-mta-ip': r.sendingMta,
        'receiving-mx-hostname': r.mxHost,
        'receiving-ip': r.receivingIp,
        'failed-session-count': 0,
      };
      if (r.detail) detail['failure-reason-code'] = r.detail;
      detailIndex.set(dkey, detail);
      entry['failure-details'].push(detail);
    }
    detail['failed-session-count']++;
  }
  return reports;
}

/** Per policy domain: successful and failed sessions, and failures by result type. */
export function daySummary(lines: TlsRptLine[]): Array<{ domain: string; ok: number; failed: number; failures: Record<string, number> }> {
  const by = new Map<string, { domain: string; ok: number; failed: number; failures: Record<string, number> }>();
  for (const r of lines) {
    let s = by.get(r.policyDomain);
    if (!s) by.set(r.policyDomain, (s = { domain: r.policyDomain, ok: 0, failed: 0, failures: {} }));
    if (r.ok) s.ok++;
    else {
      s.failed++;
      const t = r.failure ?? 'validation-failure';
      s.failures[t] = (s.failures[t] ?? 0) + 1;
    }
  }
  return [...by.values()].sort((a, b) => a.domain.localeCompare(b.domain));
}
