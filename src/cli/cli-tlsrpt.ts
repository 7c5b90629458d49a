/**
 * cli-tlsrpt: `postrider tlsrpt show [--json]` prints today's TLSRPT
 * figures (UTC day, so far) per policy domain: successful and failed TLS
 * sessions and the failures by RFC 8460 result type; `postrider tlsrpt
 * send [--today]` sends the reports of the finished days not sent yet (as
 * the daemon does at smtp_tlsrpt_send_time), or with --today the report of
 * today so far, and prints one line per domain and rua URI. Both read the
 * files under $queue_directory/tlsrpt and work with the daemon up or down;
 * mailto: reports wait in the maildrop for pickup. Errors: CliError for a
 * missing subcommand or an unusable configuration.
 */
import { loadConfig, mainConfigOf } from '../config/load-config.js';
import { dayOf } from '../global/tlsrpt-record.js';
import { daySummary, readDay } from '../global/tlsrpt-report.js';
import { sendDay, sendFinishedDays, tlsrptSettings, type TlsRptSettings } from '../global/tlsrpt-send.js';
import { CliError } from './cli-error.js';

function settingsAt(dir: string): TlsRptSettings {
  try {
    return tlsrptSettings(mainConfigOf(loadConfig(dir)));
  } catch (err) {
    throw new CliError((err as Error).message);
  }
}

/** Returns the exit status. */
export async function tlsrpt(dir: string, args: string[], flags: { json?: boolean; today?: boolean }): Promise<number> {
  const [sub, ...rest] = args;
  if (rest.length) throw new CliError(`tlsrpt ${sub}: unexpected argument ${rest[0]}; see postrider help tlsrpt`);
  const s = settingsAt(dir);
  if (sub === 'show') {
    const day = dayOf(Date.now());
    const rows = daySummary(readDay(s.queueDir, day));
    if (flags.json) {
      process.stdout.write(JSON.stringify({ day, enabled: s.enabled, domains: rows }) + '\n');
      return 0;
    }
    if (!s.enabled) process.stdout.write('smtp_tlsrpt_enable = no: no sessions are counted\n');
    process.stdout.write(`TLS sessions on ${day} (UTC, so far)\n`);
    if (!rows.length) process.stdout.write('none\n');
    for (const r of rows) {
      const kinds = Object.entries(r.failures).map(([k, n]) => `${k}=${n}`).join(' ');
      process.stdout.write(`${r.domain}: successful=${r.ok} failed=${r.failed}${kinds ? ` (${kinds})` : ''}\n`);
    }
    return 0;
  }
  if (sub === 'send') {
    const lines = flags.today ? await sendDay(s, dayOf(Date.now()), true) : await sendFinishedDays(s);
    if (!lines.length) process.stdout.write(flags.today ? 'nothing recorded today\n' : 'no finished day left to report\n');
    for (const o of lines) process.stdout.write(o.line + '\n');
    return lines.every((o) => o.ok) ? 0 : 1;
  }
  throw new CliError(sub ? `tlsrpt: unknown subcommand ${sub}; see postrider help tlsrpt` : 'tlsrpt: show or send?; see postrider help tlsrpt');
}
