/**
 * tlsrpt-record: the smtp client's per-session TLS results (RFC 8460
 * section 4), kept under $queue_directory/tlsrpt/YYYY-MM-DD/ (the UTC day)
 * as JSON lines, one file per process and thread, so that any number of
 * smtp threads record at once without locks; the report (tlsrpt-report.ts)
 * sums the files of a day. A line is appended per session attempt (a
 * cached connection reused is no new session), without fsync: these are
 * statistics, and a crash loses at most the lines not yet written.
 *
 * Public: TlsRptRecorder (recordTlsResult, flush), tlsrptDir, dayOf, and the
 * result types (TlsSessionResult, TlsFailureType) the smtp client records.
 * recordTlsResult never throws; a write error is logged once per thread
 * through `onError` and the line is dropped.
 */
import { appendFile, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { threadId } from 'node:worker_threads';

/** RFC 8460 result types, for failures counted in TLSRPT. */
export type TlsFailureType =
  | 'starttls-not-supported'
  | 'certificate-host-mismatch'
  | 'certificate-expired'
  | 'certificate-not-trusted'
  | 'validation-failure'
  | 'tlsa-invalid'
  | 'dnssec-invalid'
  | 'dane-required'
  | 'sts-policy-fetch-error'
  | 'sts-policy-invalid'
  | 'sts-webpki-invalid';

/** One session's TLS result, as the smtp client hands it to TLSRPT accounting. */
export interface TlsSessionResult {
  /** The policy domain (the recipient domain / next-hop domain the policy is for). */
  policyDomain: string;
  /** TLSRPT policy-type: 'tlsa', 'sts' or 'no-policy-found'. */
  policyType: 'tlsa' | 'sts' | 'no-policy-found';
  /** The policy-string lines for the report (TLSA records as text, or the STS policy lines). */
  policyStrings: string[];
  mxHost: string;
  sendingMta: string;
  receivingIp: string;
  ok: boolean;
  failure?: TlsFailureType;
  /** Free text for failure-reason-code / additional-information. */
  detail?: string;
}

/** What a recorded line holds of a session. */
export type TlsRptResult = TlsSessionResult;

/** One recorded line: a session result and when it happened (ms since the epoch). */
export interface TlsRptLine extends TlsRptResult {
  time: number;
}

/** The TLSRPT directory of a queue directory. */
export function tlsrptDir(queueDir: string): string {
  return join(queueDir, 'tlsrpt');
}

/** The UTC day of a time, "YYYY-MM-DD" (RFC 8460 reports cover UTC days). */
export function dayOf(time: number): string {
  return new Date(time).toISOString().slice(0, 10);
}

/** Appends this thread's session results under the queue directory. */
export class TlsRptRecorder {
  private chain: Promise<void> = Promise.resolve();
  private readonly made = new Set<string>();
  private warned = false;

  constructor(private readonly queueDir: string, private readonly onError: (message: string) => void = () => undefined) {}

  /** Records one session attempt's TLS result (queued in order; never throws). */
  recordTlsResult(result: TlsRptResult): void {
    const time = Date.now();
    const line: TlsRptLine = { ...result, time };
    this.chain = this.chain.then(() => this.write(line)).catch((err: Error) => {
      if (this.warned) return;
      this.warned = true;
      this.onError(`cannot record a TLSRPT result: ${err.message}`);
    });
  }

  /** Resolves once every result recorded so far is written. */
  flush(): Promise<void> {
    return this.chain;
  }

  private async write(line: TlsRptLine): Promise<void> {
    const dir = join(tlsrptDir(this.queueDir), dayOf(line.time));
    const file = join(dir, `${process.pid}-${threadId}.jsonl`);
    const text = JSON.stringify(line) + '\n';
    if (!this.made.has(dir)) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
      this.made.add(dir);
    }
    try {
      await appendFile(file, text, { mode: 0o600 });
    } catch (err) {
      // The day's directory went away (an administrator cleaned up): make it again.
      if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err;
      await mkdir(dir, { recursive: true, mode: 0o700 });
      await appendFile(file, text, { mode: 0o600 });
    }
  }
}
